package outbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// store is what both implementations offer.
type store interface {
	Put(ctx context.Context, id string, payload []byte) error
	Pending(ctx context.Context, after int64, limit int) ([]Item, error)
	Ack(ctx context.Context, ids []string) (int, error)
	Stats(ctx context.Context) (Stats, error)
	NextConn(ctx context.Context) (uint64, error)
	ClaimCommand(ctx context.Context, id, name string) (bool, error)
}

func implementations(t *testing.T) map[string]store {
	db, err := Open(filepath.Join(t.TempDir(), "outbox.db"), 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return map[string]store{"sqlite": db, "memory": NewMemory(5)}
}

func TestBehaviour(t *testing.T) {
	ctx := context.Background()
	for name, s := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			for i := 1; i <= 3; i++ {
				if err := s.Put(ctx, fmt.Sprint("e", i), []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Put(ctx, "e2", []byte{9}); err != nil { // a repeated id is a no-op
				t.Fatal(err)
			}
			items, err := s.Pending(ctx, 0, 10)
			if err != nil || len(items) != 3 || items[0].ID != "e1" || items[2].ID != "e3" || items[1].Payload[0] != 2 {
				t.Fatalf("Pending = %+v, %v", items, err)
			}
			if more, _ := s.Pending(ctx, items[0].Seq, 1); len(more) != 1 || more[0].ID != "e2" {
				t.Fatalf("Pending after = %+v", more)
			}
			if n, err := s.Ack(ctx, []string{"e1", "e3", "unknown"}); n != 2 || err != nil {
				t.Fatalf("Ack = %d, %v", n, err)
			}
			// Bound 5: four more make six, so the oldest (e2) goes and is counted.
			for i := 4; i <= 8; i++ {
				if err := s.Put(ctx, fmt.Sprint("e", i), nil); err != nil {
					t.Fatal(err)
				}
			}
			st, _ := s.Stats(ctx)
			if st != (Stats{Depth: 5, Bound: 5, Dropped: 1}) {
				t.Fatalf("Stats = %+v", st)
			}
			items, _ = s.Pending(ctx, 0, 10)
			if items[0].ID != "e4" {
				t.Fatalf("oldest kept = %s, want e4", items[0].ID)
			}
			a, _ := s.NextConn(ctx)
			b, _ := s.NextConn(ctx)
			if b != a+1 {
				t.Fatalf("NextConn %d then %d", a, b)
			}
			if ok, err := s.ClaimCommand(ctx, "c1", "reboot"); !ok || err != nil {
				t.Fatalf("first claim = %v, %v", ok, err)
			}
			if ok, _ := s.ClaimCommand(ctx, "c1", "reboot"); ok {
				t.Fatal("a replayed command id was claimed twice")
			}
		})
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	o, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	o.Put(ctx, "a", []byte("x"))
	o.Put(ctx, "b", []byte("y"))
	o.Ack(ctx, []string{"a"})
	c, _ := o.NextConn(ctx)
	o.ClaimCommand(ctx, "cmd-1", "identify")
	o.Close()

	o, err = Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	st, _ := o.Stats(ctx)
	if st.Depth != 1 || st.Bound != DefaultBound {
		t.Fatalf("Stats after reopen = %+v", st)
	}
	if c2, _ := o.NextConn(ctx); c2 != c+1 {
		t.Fatalf("connection counter %d after %d", c2, c)
	}
	if ok, _ := o.ClaimCommand(ctx, "cmd-1", "identify"); ok {
		t.Fatal("command id forgotten across reopen")
	}
}

// TestSIGKILL writes events in a child process, kills it with SIGKILL mid-stream, and checks that every
// event the child reported as written is in the outbox.
func TestSIGKILL(t *testing.T) {
	if path := os.Getenv("OUTBOX_CHILD"); path != "" {
		o, err := Open(path, 0)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			id := strconv.Itoa(i)
			if err := o.Put(context.Background(), id, []byte("payload")); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println(id)
		}
	}
	path := filepath.Join(t.TempDir(), "k.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILL$")
	cmd.Env = append(os.Environ(), "OUTBOX_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var written []string
	deadline := time.Now().Add(time.Second)
	for sc.Scan() {
		written = append(written, sc.Text())
		if len(written) >= 50 && time.Now().After(deadline) || len(written) >= 300 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // the child may have written a few more before dying
		written = append(written, sc.Text())
	}
	cmd.Wait()
	if len(written) == 0 || written[0] == "error" {
		t.Fatalf("child wrote nothing: %v", written)
	}
	o, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	items, _ := o.Pending(context.Background(), 0, 1_000_000)
	have := map[string]bool{}
	for _, it := range items {
		have[it.ID] = true
	}
	for _, id := range written {
		if !have[id] {
			t.Fatalf("event %s was reported written before SIGKILL but is not in the outbox (%d written, %d kept)", id, len(written), len(items))
		}
	}
	t.Logf("%d events written before SIGKILL, %d in the outbox", len(written), len(items))
}

// TestDiskFullIsCountedInStats: when the outbox cannot write (SQLite's "database or disk is full",
// here by capping the database's size, as a full disk does), Put fails, the event is counted as lost
// and Stats says full; once writes succeed again, full clears and the count stays.
func TestDiskFullIsCountedInStats(t *testing.T) {
	ctx := context.Background()
	o, err := Open(filepath.Join(t.TempDir(), "outbox.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Put(ctx, "e-1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := o.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := o.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 64<<10)
	if err := o.Put(ctx, "e-2", big); err == nil {
		t.Fatal("a write beyond the size cap succeeded")
	}
	st, err := o.Stats(ctx)
	if err != nil || !st.Full || st.Lost != 1 || st.Depth != 1 {
		t.Fatalf("stats on a full disk = %+v, %v; want full, 1 lost, depth 1", st, err)
	}
	if _, err := o.db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if err := o.Put(ctx, "e-3", big); err != nil {
		t.Fatal(err)
	}
	if st, _ := o.Stats(ctx); st.Full || st.Lost != 1 || st.Depth != 2 {
		t.Fatalf("stats after space came back = %+v; want not full, 1 lost, depth 2", st)
	}
}
