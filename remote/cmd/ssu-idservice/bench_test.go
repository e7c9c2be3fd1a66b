package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idtest"
	"ssu-kiosk/remote/sqldb/sqldbtest"
)

// BenchmarkIdentityService drives an ssu-idservice running as a separate process on loopback (SQLite, then
// PostgreSQL; outbox delivery; no rate limits) and reports:
//   - starts/s: session starts (challenge + start, with ECDSA card proof) per second, 8 kiosks at once;
//   - p99-full-ms / p50-full-ms: latency of a full session (challenge, start, send, verify, complete), the
//     code read from the outbox as a person would, 8 kiosks at once.
//
// Run: go test -run '^$' -bench BenchmarkIdentityService -benchtime 1x ./remote/cmd/ssu-idservice/
// Each iteration is a fixed workload (about 10-20 s on 2 cores), so -benchtime 1x is the intended use.
func BenchmarkIdentityService(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchService(b, filepath.Join(b.TempDir(), "bench.db"), "") })
	b.Run("postgres", func(b *testing.B) {
		benchService(b, postgresDSN(b), filepath.Join(b.TempDir(), "bench.key"))
	})
}

func benchService(b *testing.B, db, keyFile string) {
	dir := b.TempDir()
	p := writePKI(b, dir)
	const cards, workers = 64, 8
	var csv strings.Builder
	csv.WriteString("uuid,name,email,mobile,card_serial,sopin\n")
	var deck []*idtest.Card
	for i := range cards {
		uuid, serial := fmt.Sprintf("5559%08d", i), fmt.Sprintf("%032x", 0xbe0000+i)
		fmt.Fprintf(&csv, "%s,Bench Person %d,bench%d@nhs.net,,%s,12345678\n", uuid, i, i, serial)
		deck = append(deck, p.cardCA.ValidCard(b, serial, uuid))
	}
	profiles := filepath.Join(dir, "profiles.csv")
	if err := os.WriteFile(profiles, []byte(csv.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	outbox := filepath.Join(dir, "outbox")
	if keyFile == "" {
		keyFile = db + ".key"
	}
	if code, out, errs := runCmd(b, "", "import", "--db", db, "--key-file", keyFile, profiles); code != 0 {
		b.Fatalf("import: %s %s", out, errs)
	}
	addr := freeAddr(b)
	startChild(b, p, addr, "--listen", addr, "--db", db, "--key-file", keyFile, "--tls-cert", p.cert, "--tls-key", p.key,
		"--client-ca", p.clientCA, "--client-crl", p.crl, "--card-ca", p.cardCAFile, "--outbox", outbox, "--outbox-listen", "127.0.0.1:0",
		"--allow-domains", "nhs.net", "--kiosk-limit", "0", "--card-limit", "0", "--log-level", "warn")
	clients := make([]*identity.Client, workers)
	for i := range clients {
		clients[i] = kioskClient(b, p, addr, fmt.Sprintf("bench-kiosk-%d", i))
		defer clients[i].Close()
	}
	ctx := context.Background()
	start := func(c *identity.Client, card *idtest.Card) (identity.Session, error) {
		ch, err := c.Challenge(ctx)
		if err != nil {
			return identity.Session{}, err
		}
		return c.StartSession(ctx, card.StartRequest(b, ch.Nonce))
	}
	// fan runs n jobs over the workers and returns the wall time.
	fan := func(n int, job func(w, i int) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		var firstErr atomic.Value
		t0 := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					if err := job(w, i); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	for range b.N {
		const starts, fulls = 1500, 400
		wall := fan(starts, func(w, i int) error {
			s, err := start(clients[w], deck[i%cards])
			if err == nil && !s.Eligible {
				err = fmt.Errorf("session not eligible: %s", s.Reason)
			}
			return err
		})
		b.ReportMetric(float64(starts)/wall.Seconds(), "starts/s")

		lat := make([]time.Duration, fulls)
		fan(fulls, func(w, i int) error {
			c, card := clients[w], deck[i%cards]
			t0 := time.Now()
			s, err := start(c, card)
			if err != nil {
				return err
			}
			if _, err := c.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodEmail,
				Address: identity.Secret(fmt.Sprintf("bench%d@nhs.net", i%cards))}); err != nil {
				return err
			}
			code, err := readOutbox(outbox, s.ID)
			if err != nil {
				return err
			}
			rel, err := c.VerifyCode(ctx, s.ID, code)
			if err != nil {
				return err
			}
			rel.SOPIN.Zero()
			if err := c.Complete(ctx, s.ID, identity.CompleteRequest{Outcome: identity.OutcomeUnlocked}); err != nil {
				return err
			}
			lat[i] = time.Since(t0)
			return nil
		})
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-full-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-full-ms")
	}
}

// readOutbox waits for the session's message and returns its code.
func readOutbox(dir, sessionID string) (identity.Secret, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*-"+sessionID+"-email.txt"))
		if len(files) > 0 {
			data, err := os.ReadFile(files[0])
			if err != nil {
				return nil, err
			}
			if m := codeRE.FindSubmatch(data); m != nil {
				return identity.Secret(m[1]), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return nil, fmt.Errorf("no outbox message for session %s", sessionID)
}

// postgresDSN makes a schema of its own in the machine's PostgreSQL and drops it afterwards.
func postgresDSN(tb testing.TB) string { return sqldbtest.PostgresSchema(tb, "idsvc_bench") }
