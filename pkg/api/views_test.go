package api

import (
	"context"
	"strings"
	"testing"

	"github.com/drover-dev/drover/pkg/driver"
)

// presignedDrivers is a registry whose driver was installed from a
// presigned URL with credentials.
type presignedDrivers struct{ fakeDrivers }

const presignedURL = "https://dl:hunter2@bucket.s3.example/driver-gke?X-Amz-Credential=AKIA&X-Amz-Signature=deadbeefsig#frag"

func (presignedDrivers) List(context.Context) ([]driver.Info, error) {
	return []driver.Info{{Name: "gke", URL: presignedURL, Checksum: "sum", Address: driver.AddressPort}}, nil
}

func (presignedDrivers) Get(context.Context, string) (driver.Info, error) {
	return driver.Info{Name: "gke", URL: presignedURL, Checksum: "sum", Address: driver.AddressPort}, nil
}

// TestViewsRedactURLs: no view shows a URL's userinfo, query or fragment:
// a driver's presigned download URL (to any user), a cluster's authorized
// endpoint (stored before such URLs were refused), which is now refused
// with credentials, a query or a fragment.
func TestViewsRedactURLs(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Drivers = presignedDrivers{} })
	secrets := []string{"hunter2", "AKIA", "deadbeefsig", "frag", "X-Amz", "tok3n"}
	check := func(t *testing.T, what, body, want string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q: %s", what, s, body)
			}
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s does not show %q: %s", what, want, body)
		}
	}
	for _, path := range []string{"/v3/drivers", "/v3/drivers/gke"} {
		for who, bearer := range map[string]string{"admin": f.admin, "user": f.user} {
			code, body := f.do(t, "GET", path, bearer, "")
			if code != 200 {
				t.Fatalf("GET %s as %s: %d %s", path, who, code, body)
			}
			check(t, "GET "+path+" as "+who, body, `"url": "https://bucket.s3.example/driver-gke"`)
		}
	}

	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`)
	if code != 201 {
		t.Fatalf("create cluster: %d %s", code, body)
	}
	id := strings.SplitN(strings.SplitN(body, `"id": "`, 2)[1], `"`, 2)[0]
	for _, bad := range []string{"https://u:hunter2@prod.example:6443", "https://prod.example:6443/?token=tok3n", "https://prod.example:6443/#frag"} {
		if code, body := f.do(t, "PUT", "/v3/clusters/"+id+"/auth-endpoint", f.admin, `{"url":"`+bad+`"}`); code != 422 ||
			!strings.Contains(body, "must not hold credentials") {
			t.Errorf("auth endpoint %s: %d %s, want 422", bad, code, body)
		}
	}
	if err := f.st.SetAuthEndpoint(context.Background(), id, "https://u:hunter2@prod.example:6443/?token=tok3n#frag", ""); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v3/clusters/" + id, "/v3/clusters"} {
		code, body := f.do(t, "GET", path, f.admin, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		check(t, "GET "+path, body, `"url": "https://prod.example:6443/"`)
	}
}
