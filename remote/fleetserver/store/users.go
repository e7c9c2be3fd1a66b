package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// User is a web account. PasswordHash is a PHC-style KDF string, never a password.
type User struct {
	Name         string
	Role         string   // "it-admin", "ra" or "viewer"
	Sites        []string // an RA's sites; empty for the other roles
	PasswordHash string
	CreatedAt    time.Time
}

// PutUser creates a user or replaces its role, sites and password hash.
func (s *Store) PutUser(ctx context.Context, u User) error {
	_, err := s.exec(ctx, `INSERT INTO users (name, role, sites, pw_hash, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, sites = excluded.sites, pw_hash = excluded.pw_hash`,
		u.Name, u.Role, strings.Join(u.Sites, ","), u.PasswordHash, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("put user %s: %w", u.Name, err)
	}
	return nil
}

func splitSites(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// User returns a user by name.
func (s *Store) User(ctx context.Context, name string) (User, bool, error) {
	var u User
	var sites string
	var created int64
	err := s.queryRow(ctx, `SELECT name, role, sites, pw_hash, created_at FROM users WHERE name = ?`, name).
		Scan(&u.Name, &u.Role, &sites, &u.PasswordHash, &created)
	if err == sql.ErrNoRows {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("user %s: %w", name, err)
	}
	u.Sites, u.CreatedAt = splitSites(sites), fromMS(created)
	return u, true, nil
}

// CountUsers returns how many users there are.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CreateSession stores a web session under the hash of its token.
func (s *Store) CreateSession(ctx context.Context, tokenHash, user, csrf string, expires time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM web_sessions WHERE expires_at < ?`, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO web_sessions (token_hash, user_name, csrf, expires_at) VALUES (?, ?, ?, ?)`,
		tokenHash, user, csrf, ms(expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the user of an unexpired web session and its CSRF token.
func (s *Store) Session(ctx context.Context, tokenHash string) (User, string, bool, error) {
	var u User
	var sites, csrf string
	var created int64
	err := s.queryRow(ctx, `SELECT u.name, u.role, u.sites, u.pw_hash, u.created_at, w.csrf FROM web_sessions w
		JOIN users u ON u.name = w.user_name WHERE w.token_hash = ? AND w.expires_at > ?`, tokenHash, time.Now().UnixMilli()).
		Scan(&u.Name, &u.Role, &sites, &u.PasswordHash, &created, &csrf)
	if err == sql.ErrNoRows {
		return User{}, "", false, nil
	}
	if err != nil {
		return User{}, "", false, fmt.Errorf("session: %w", err)
	}
	u.Sites, u.CreatedAt = splitSites(sites), fromMS(created)
	return u, csrf, true, nil
}

// DeleteSession ends a web session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := s.exec(ctx, `DELETE FROM web_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
