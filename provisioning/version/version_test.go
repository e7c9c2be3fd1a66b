package version

import (
	"runtime/debug"
	"testing"
)

// TestCompare: the order the update code relies on to refuse older bundles.
func TestCompare(t *testing.T) {
	// Each version is older than the next one.
	ordered := []string{
		"dev",
		"0.0.0-gabcdef0",
		"0.0.9-g1234567",
		"0.0.10-gabcdef0",
		"0.0.123-gabcdef0-dirty",
		"0.1.0",
		"1.0.0-rc.1",
		"1.0.0-rc.1-2-g0123abc",
		"1.0.0-rc.2",
		"1.0.0-rc.10",
		"1.0.0",
		"v1.0.0-1-gabcdef0",
		"1.0.0-2-gabcdef0-dirty",
		"1.0.0-10-g0000000",
		"1.0.1",
		"1.2.0",
		"1.10.0",
		"2.0.0",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	// Equal: the commit name, "-dirty" and a leading "v" do not order.
	for _, p := range [][2]string{
		{"0.0.5-gabcdef0", "0.0.5-g1234567"},
		{"0.0.5-gabcdef0", "0.0.5-gabcdef0-dirty"},
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-4-gabcdef0", "1.2.3-4-g9999999"},
	} {
		if got := Compare(p[0], p[1]); got != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", p[0], p[1], got)
		}
	}
	// Not versions: older than any version, ordered among themselves as strings.
	for _, s := range []string{"", "dev", "1.2", "1.2.3.4", "x.y.z", "1.2.3-", "-dirty", "1.2.3-rc..1"} {
		if _, ok := parse(s); ok {
			t.Errorf("parse(%q) accepted", s)
		}
		if Compare(s, "0.0.0-gabcdef0") != -1 || Compare("0.0.1-gabcdef0", s) != 1 {
			t.Errorf("%q does not order before every version", s)
		}
	}
	if Compare("a", "b") != -1 || Compare("dev", "dev") != 0 {
		t.Error("non-versions do not compare as strings")
	}
}

// TestFromBuildInfo: an unstamped build names its commit, and says when the tree was modified.
func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "dev"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "3e39f17a0b1c2d3e4f5061728394a5b6c7d8e9f0"}, {Key: "vcs.modified", Value: "false"}}, "0.0.0-g3e39f17"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "3e39f17a0b1c2d3e4f5061728394a5b6c7d8e9f0"}, {Key: "vcs.modified", Value: "true"}}, "0.0.0-g3e39f17-dirty"},
	} {
		if got := fromBuildInfo(&debug.BuildInfo{Settings: c.settings}); got != c.want {
			t.Errorf("fromBuildInfo(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
}

// TestStringStamped: a stamped value wins over the build information.
func TestStringStamped(t *testing.T) {
	old := value
	t.Cleanup(func() { value = old })
	value = "1.2.3-4-gabcdef0"
	if got := String(); got != "1.2.3-4-gabcdef0" {
		t.Errorf("String() = %q", got)
	}
	value = ""
	if got := String(); got == "" {
		t.Error("String() is empty when not stamped")
	}
}
