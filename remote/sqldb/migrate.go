package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Migration is one schema version: statements already written for the database they run on.
type Migration struct {
	Version    int
	Statements []string
}

// tableName is what Migrate accepts as the name of its bookkeeping table (it is put into SQL).
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Migrate applies, in order, each migration whose version table does not yet record, each in its own
// transaction with its record. Stores sharing one database keep apart by naming their own table. On
// PostgreSQL two servers starting at once wait for each other rather than both apply a version.
func Migrate(ctx context.Context, db *sql.DB, postgres bool, table string, ms []Migration) error {
	if !tableName.MatchString(table) {
		return fmt.Errorf("migrate: bad table name %q", table)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	ph := func(n int) string {
		if postgres {
			return fmt.Sprintf("$%d", n)
		}
		return "?"
	}
	for _, m := range ms {
		if err := migrateTo(ctx, db, postgres, table, m, ph); err != nil {
			return fmt.Errorf("migrate to %d: %w", m.Version, err)
		}
	}
	return nil
}

func migrateTo(ctx context.Context, db *sql.DB, postgres bool, table string, m Migration, ph func(int) string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if postgres {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE version = `+ph(1), m.Version).Scan(&have); err != nil {
		return err
	}
	if have > 0 {
		return nil
	}
	for _, stmt := range m.Statements {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (version, applied_at) VALUES (`+ph(1)+`, `+ph(2)+`)`, m.Version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
