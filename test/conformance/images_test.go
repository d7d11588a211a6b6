package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseImageList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{
			name: "sorted, repeats dropped, blank lines skipped",
			in:   "registry.k8s.io/pause:3.10\n\n  registry.k8s.io/e2e-test-images/agnhost:2.53\r\nregistry.k8s.io/pause:3.10\n",
			want: []string{"registry.k8s.io/e2e-test-images/agnhost:2.53", "registry.k8s.io/pause:3.10"},
		},
		{
			name: "port, nested path, odd tags",
			in:   "localhost:5000/sig-storage/csi-snapshotter:v8.2.0\nregistry.k8s.io/e2e-test-images/node-perf/npb-is:1.2\ngcr.io/a__b/c--d:3.5.21-0_x\n",
			want: []string{"gcr.io/a__b/c--d:3.5.21-0_x", "localhost:5000/sig-storage/csi-snapshotter:v8.2.0", "registry.k8s.io/e2e-test-images/node-perf/npb-is:1.2"},
		},
		{name: "no tag", in: "registry.k8s.io/pause\n", wantErr: "line 1"},
		{name: "no path", in: "pause:3.10\n", wantErr: "line 1"},
		{name: "digest", in: "registry.k8s.io/pause@sha256:0123\n", wantErr: "line 1"},
		{name: "upper case name", in: "registry.k8s.io/Pause:3.10\n", wantErr: "line 1"},
		{name: "a log line", in: "registry.k8s.io/pause:3.10\nI1206 12:00:00 loaded\n", wantErr: "line 2"},
		{name: "two on a line", in: "a.io/b:1 a.io/c:2\n", wantErr: "line 1"},
		{name: "tag too long", in: "a.io/b:" + strings.Repeat("x", 129) + "\n", wantErr: "line 1"},
		{name: "empty", in: "\n\n", wantErr: "empty"},
		{name: "line too long", in: strings.Repeat("a", maxImageLine+1), wantErr: "read image list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImageList(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseImageList() = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitRef(t *testing.T) {
	tests := []struct{ ref, repo, tag string }{
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause", "3.10"},
		{"localhost:5000/a/b:v1", "localhost:5000/a/b", "v1"},
		{"localhost:5000/a/b", "localhost:5000/a/b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			repo, tag := splitRef(tt.ref)
			if diff := cmp.Diff([]string{tt.repo, tt.tag}, []string{repo, tag}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPickImages(t *testing.T) {
	refs := []string{
		"registry.k8s.io/e2e-test-images/httpd:2.4.38-4",
		"registry.k8s.io/e2e-test-images/httpd:2.4.39-4",
		"registry.k8s.io/e2e-test-images/httpd-new:1",
		"registry.k8s.io/pause:3.10",
		"registry.k8s.io/sig-storage/pause:9",
	}
	tests := []struct {
		name    string
		repos   []string
		want    map[string][]string
		wantErr string
	}{
		{
			name:  "every tag of each repository, nothing else",
			repos: []string{"registry.k8s.io/e2e-test-images/httpd", "registry.k8s.io/pause"},
			want: map[string][]string{
				"registry.k8s.io/e2e-test-images/httpd": {"registry.k8s.io/e2e-test-images/httpd:2.4.38-4", "registry.k8s.io/e2e-test-images/httpd:2.4.39-4"},
				"registry.k8s.io/pause":                 {"registry.k8s.io/pause:3.10"},
			},
		},
		{name: "a repository not listed", repos: []string{"registry.k8s.io/pause", "registry.k8s.io/e2e-test-images/agnhost"},
			wantErr: "names no image of registry.k8s.io/e2e-test-images/agnhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PickImages(refs, tt.repos)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PickImages() error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseImageList: whatever the input, a parsed list is sorted, has no
// repeats, and each reference splits into a repository with a slash and a
// non-empty tag that join back to it.
func FuzzParseImageList(f *testing.F) {
	f.Add("registry.k8s.io/pause:3.10\nregistry.k8s.io/e2e-test-images/agnhost:2.53\n")
	f.Add("localhost:5000/a:b\n\n")
	f.Add("a/b:c d/e:f")
	f.Add("x.io/a:1\nx.io/a:1\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		refs, err := ParseImageList(strings.NewReader(in))
		if err != nil {
			return
		}
		for i, ref := range refs {
			if i > 0 && refs[i-1] >= ref {
				t.Errorf("not sorted or repeated: %q", refs)
			}
			repo, tag := splitRef(ref)
			if tag == "" || !strings.Contains(repo, "/") || repo+":"+tag != ref {
				t.Errorf("%q splits into %q and %q", ref, repo, tag)
			}
			if strings.ContainsAny(ref, " \t\r\n@") {
				t.Errorf("%q holds a space or a digest", ref)
			}
		}
	})
}
