package web_test

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/web"
)

const metricsToken = "metrics-bearer-token-for-tests"

// getBearer GETs path with no session and an optional bearer token.
func (f *fixture) getBearer(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signIn posts the sign-in form as if from forwardedFor (through a proxy; "" for none) and returns
// the status and the redirect.
func (f *fixture) signIn(t *testing.T, name, pw, next, forwardedFor string) (int, string) {
	t.Helper()
	form := url.Values{"name": {name}, "password": {pw}}
	if next != "" {
		form.Set("next", next)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestSignInLimitsPerAccountAndPerAddress: five wrong passwords lock that account only; other people
// behind the same address still sign in, until the much higher per-address bound is reached.
func TestSignInLimitsPerAccountAndPerAddress(t *testing.T) {
	f := newFixture(t, func(c *web.Config) { c.Login = web.LoginLimits{PerAccount: 5, PerAddress: 12} })
	for i := 0; i < 5; i++ {
		if code, _ := f.signIn(t, "admin", "wrong password here", "", ""); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, code)
		}
	}
	if code, _ := f.signIn(t, "admin", password, "", ""); code != http.StatusTooManyRequests {
		t.Fatalf("the locked account signed in: %d, want 429", code)
	}
	if code, _ := f.signIn(t, "viewer", password, "", ""); code != http.StatusSeeOther {
		t.Fatalf("another account from the same address: %d, want it signed in", code)
	}
	// Guessing across many accounts from one address meets the address's bound.
	for i := 0; i < 7; i++ {
		f.signIn(t, "nobody-"+string(rune('a'+i)), "wrong password here", "", "")
	}
	if code, _ := f.signIn(t, "viewer", password, "", ""); code != http.StatusTooManyRequests {
		t.Fatalf("after 12 failures from one address: %d, want 429", code)
	}
}

// TestSignInBehindATrustedProxy: X-Forwarded-For names the client only when the connection comes from
// the configured proxy; from anyone else it is ignored, so it cannot be used to dodge the limit.
func TestSignInBehindATrustedProxy(t *testing.T) {
	limits := web.LoginLimits{PerAccount: 50, PerAddress: 6}
	t.Run("trusted", func(t *testing.T) {
		f := newFixture(t, func(c *web.Config) {
			c.Login, c.TrustedProxies = limits, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		for i := 0; i < 6; i++ {
			f.signIn(t, "admin", "wrong password here", "", "203.0.113.7")
		}
		if code, _ := f.signIn(t, "viewer", password, "", "203.0.113.7"); code != http.StatusTooManyRequests {
			t.Fatalf("the guessing client behind the proxy: %d, want 429", code)
		}
		if code, _ := f.signIn(t, "viewer", password, "", "203.0.113.8"); code != http.StatusSeeOther {
			t.Fatalf("another client behind the same proxy: %d, want it signed in", code)
		}
		// A client cannot pick its address by sending its own header through the proxy: the proxy
		// appends what it saw, and that rightmost address is the one used.
		if code, _ := f.signIn(t, "viewer", password, "", "198.51.100.1, 203.0.113.7"); code != http.StatusTooManyRequests {
			t.Fatalf("a forged left-hand hop dodged the limit: %d, want 429", code)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		f := newFixture(t, func(c *web.Config) { c.Login = limits })
		for i := 0; i < 6; i++ {
			f.signIn(t, "admin", "wrong password here", "", "203.0.113."+string(rune('1'+i)))
		}
		if code, _ := f.signIn(t, "viewer", password, "", "192.0.2.99"); code != http.StatusTooManyRequests {
			t.Fatalf("X-Forwarded-For from an untrusted peer was believed: %d, want 429", code)
		}
	})
}

// TestSignInRedirectStaysOnThisSite: after sign-in the browser goes only to a path of this origin.
func TestSignInRedirectStaysOnThisSite(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ next, want string }{
		{"/reports?month=2026-10", "/reports?month=2026-10"},
		{"/kiosks/kiosk-0001#commands", "/kiosks/kiosk-0001#commands"},
		{"/\t/evil.example", "/"}, // browsers strip the TAB: //evil.example
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\/evil.example", "/"},
		{"/%2f/evil.example", "/"},
		{"/%5cevil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/\u2028/evil.example", "/"},
		{"", "/"},
		// Review of issue #11: encoded, relative-scheme and dot-segment forms, and a long value.
		{"/%09/evil.example", "/%09/evil.example"}, // a path: browsers do not decode %09 before parsing
		{"/%2F%2Fevil.example", "/"},
		{"/%5C%5Cevil.example", "/"},
		{"https:evil.example", "/"},
		{"https:/evil.example", "/"},
		{"//\\evil.example", "/"},
		{"/.//evil.example", "/evil.example"},               // cleaned to a path of this site, never "//"
		{"/..//evil.example", "/evil.example"},              // likewise
		{"/\u3000/evil.example", "/%e3%80%80/evil.example"}, // sent percent-encoded: a path
		{"/\uff0f/evil.example", "/%ef%bc%8f/evil.example"}, // a fullwidth solidus is no slash in a path
		{"/reports?x=" + strings.Repeat("a", 3000), "/reports?x=" + strings.Repeat("a", 3000)},
	} {
		code, loc := f.signIn(t, "viewer", password, tc.next, "")
		if code != http.StatusSeeOther || loc != tc.want {
			t.Errorf("next %q: %d to %q, want %q", tc.next, code, loc, tc.want)
		}
	}
}

// TestMetricsNeedTheirToken: /metrics is off the dashboard's listener unless a token is configured,
// and then needs it.
func TestMetricsNeedTheirToken(t *testing.T) {
	off := newFixture(t)
	if code, _ := off.getBearer(t, "/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("metrics with no token configured: %d, want 404", code)
	}
	on := newFixture(t, func(c *web.Config) { c.MetricsToken = []byte(metricsToken) })
	for _, tok := range []string{"", "wrong"} {
		if code, _ := on.getBearer(t, "/metrics", tok); code != http.StatusUnauthorized {
			t.Errorf("metrics with token %q: %d, want 401", tok, code)
		}
	}
	if code, body := on.getBearer(t, "/metrics", metricsToken); code != http.StatusOK || !strings.Contains(body, "ssu_fleet_kiosks_online 2") {
		t.Fatalf("metrics with the token: %d\n%.300s", code, body)
	}
}

// gatedStore holds every account look-up until the test lets them go, so that sign-ins sent at once are
// all in flight together, as an attacker's parallel requests are.
type gatedStore struct {
	web.Store
	arrived chan struct{}
	gate    chan struct{}
}

func (g gatedStore) User(ctx context.Context, name string) (store.User, bool, error) {
	g.arrived <- struct{}{}
	<-g.gate
	return g.Store.User(ctx, name)
}

// TestSignInLimitHoldsForParallelGuesses: wrong passwords sent at once for one account are each counted
// before the password is checked, so no more than the limit are ever checked. The attack: twenty
// parallel guesses, all let through because none had failed yet when each was allowed.
func TestSignInLimitHoldsForParallelGuesses(t *testing.T) {
	const tries, limit = 20, 5
	gate := gatedStore{arrived: make(chan struct{}, tries), gate: make(chan struct{})}
	f := newFixture(t, func(c *web.Config) {
		c.Login = web.LoginLimits{PerAccount: limit, PerAddress: 1000}
		gate.Store = c.Store
		c.Store = gate
	})
	codes := make(chan int, tries)
	for range tries {
		go func() {
			code, _ := f.signIn(t, "admin", "wrong password here", "", "")
			codes <- code
		}()
	}
	// Each request either reaches the account look-up (and waits there) or is refused without it; once
	// all are one or the other, the held look-ups go on.
	checked, refused := 0, 0
	for checked+refused < tries {
		select {
		case <-gate.arrived:
			checked++
		case code := <-codes:
			if code != http.StatusTooManyRequests {
				t.Fatalf("a sign-in answered %d before its account was looked up", code)
			}
			refused++
		}
	}
	close(gate.gate)
	answered := map[int]int{http.StatusTooManyRequests: refused}
	for range checked {
		answered[<-codes]++
	}
	if checked > limit || answered[http.StatusUnauthorized] > limit {
		t.Errorf("%d of %d parallel wrong passwords were checked (limit %d); answers %v", checked, tries, limit, answered)
	}
	if code, _ := f.signIn(t, "admin", password, "", ""); code != http.StatusTooManyRequests {
		t.Errorf("the account after the parallel guesses: %d, want 429", code)
	}
}

// TestSignInAddressLimitCoversAnIPv6Network: one IPv6 client holds a whole /64 and can give each guess an
// address of its own. The attack: password spraying from fresh addresses of one /64, which the address
// limit never saw twice. The limit is kept per /64 for IPv6 (and per address for IPv4).
func TestSignInAddressLimitCoversAnIPv6Network(t *testing.T) {
	f := newFixture(t, func(c *web.Config) {
		c.Login = web.LoginLimits{PerAccount: 50, PerAddress: 6}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for i := range 6 {
		f.signIn(t, "nobody-"+strconv.Itoa(i), "wrong password here", "", "2001:db8:1:2::"+strconv.Itoa(i+1))
	}
	if code, _ := f.signIn(t, "viewer", password, "", "2001:db8:1:2:ffff::7"); code != http.StatusTooManyRequests {
		t.Fatalf("another address of the guessing /64: %d, want 429", code)
	}
	if code, _ := f.signIn(t, "viewer", password, "", "2001:db8:1:3::1"); code != http.StatusSeeOther {
		t.Fatalf("a client in another /64: %d, want it signed in", code)
	}
	// IPv4 addresses stay apart, written either way.
	for range 6 {
		f.signIn(t, "admin", "wrong password here", "", "203.0.113.7")
	}
	if code, _ := f.signIn(t, "viewer", password, "", "::ffff:203.0.113.7"); code != http.StatusTooManyRequests {
		t.Fatalf("the guessing IPv4 client as an IPv4-mapped address: %d, want 429", code)
	}
	if code, _ := f.signIn(t, "viewer", password, "", "203.0.113.8"); code != http.StatusSeeOther {
		t.Fatalf("the next IPv4 address: %d, want it signed in", code)
	}
}

// TestSignInForwardedAddressWithPort: some proxies write the client's port too ("203.0.113.7:5678",
// "[2001:db8::7]:5678"). The attack: one client's wrong passwords, when such a hop could not be read, were
// counted against the proxy's own address, so they locked out everyone behind the proxy.
func TestSignInForwardedAddressWithPort(t *testing.T) {
	f := newFixture(t, func(c *web.Config) {
		c.Login = web.LoginLimits{PerAccount: 50, PerAddress: 6}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for i := range 6 {
		f.signIn(t, "nobody-"+strconv.Itoa(i), "wrong password here", "", "203.0.113.7:"+strconv.Itoa(5000+i))
	}
	if code, _ := f.signIn(t, "viewer", password, "", "203.0.113.7:6000"); code != http.StatusTooManyRequests {
		t.Fatalf("the guessing client from another port: %d, want 429", code)
	}
	for _, other := range []string{"203.0.113.8:5678", "[2001:db8::7]:5678", "203.0.113.9"} {
		if code, _ := f.signIn(t, "viewer", password, "", other); code != http.StatusSeeOther {
			t.Fatalf("another client behind the proxy (%s): %d, want it signed in", other, code)
		}
	}
}
