package idservice

import (
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// OutboxPage serves a read-only page showing the newest messages in an outbox folder, so the person running
// a demo can read their code. Development only: it shows codes and addresses, so it must never be exposed
// beyond the demo machine.
func OutboxPage(dir string) http.Handler {
	page := template.Must(template.New("outbox").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>ssu-idservice outbox</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}</style></head>
<body><h1>Outbox (development only)</h1><p>Newest first; this page refreshes every 5 seconds.</p>
{{range .}}<h2>{{.Name}}</h2><pre>{{.Text}}</pre>{{else}}<p>No messages yet.</p>{{end}}
</body></html>`))
	type item struct{ Name, Text string }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			http.Error(w, "outbox unreadable", http.StatusInternalServerError)
			return
		}
		var names []string
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".txt") {
				names = append(names, e.Name())
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(names)))
		if len(names) > 20 {
			names = names[:20]
		}
		var items []item
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				continue
			}
			items = append(items, item{n, string(b)})
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, items)
	})
}
