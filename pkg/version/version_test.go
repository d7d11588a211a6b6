package version

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(settings ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i+1 < len(settings); i += 2 {
			out = append(out, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return out
	}
	tests := []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            Info
	}{
		{name: "no stamps, no build info", bi: nil,
			want: Info{Version: Unknown, Commit: Unknown, GoVersion: runtime.Version(), Platform: platform}},
		{name: "go test: a devel module and no vcs", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: Unknown, Commit: Unknown, GoVersion: "go1.26.8", Platform: platform}},
		{name: "go build in a checkout: the vcs settings",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab+dirty"},
				Settings: vcs("vcs", "git", "vcs.revision", "0123456789abcdef", "vcs.modified", "true")},
			want: Info{Version: "v0.0.0-20260101120000-0123456789ab+dirty", Commit: "0123456789abcdef", Modified: true,
				GoVersion: "go1.26.8", Platform: platform}},
		{name: "a clean work tree", bi: &debug.BuildInfo{Settings: vcs("vcs.revision", "abc", "vcs.modified", "false")},
			want: Info{Version: Unknown, Commit: "abc", GoVersion: runtime.Version(), Platform: platform}},
		{name: "make build: the stamps win", version: "v0.2.0-3-gabcdef0-dirty", commit: "abcdef0123",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs("vcs.revision", "other")},
			want: Info{Version: "v0.2.0-3-gabcdef0-dirty", Commit: "abcdef0123", GoVersion: "go1.26.8", Platform: platform}},
		{name: "only a version stamped", version: "v1.0.0", bi: &debug.BuildInfo{},
			want: Info{Version: "v1.0.0", Commit: Unknown, GoVersion: runtime.Version(), Platform: platform}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, resolve(tc.version, tc.commit, tc.bi)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name string
		info Info
		want string
	}{
		{name: "stamped", info: Info{Version: "v0.2.0", Commit: "abc", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			want: "drover-server version v0.2.0\ncommit: abc\ngo: go1.26.8 linux/amd64\n"},
		{name: "modified", info: Info{Version: Unknown, Commit: "abc", Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"},
			want: "drover-server version unknown\ncommit: abc (modified)\ngo: go1.26.8 linux/arm64\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.info.Text("drover-server")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestGetInATestBinary: go test stamps nothing and records no vcs
// settings, and Get says so rather than making a version up.
func TestGetInATestBinary(t *testing.T) {
	if version != "" || commit != "" {
		t.Skip("built with -ldflags -X stamps")
	}
	got := Get()
	want := Info{Version: Unknown, Commit: Unknown, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
