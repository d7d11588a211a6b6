package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/sdk"
)

func flags(m map[string]*driverpb.Flag) *driverpb.DriverFlags {
	return &driverpb.DriverFlags{Options: m}
}

func TestDriverSchemaFromFlags(t *testing.T) {
	tests := []struct {
		name           string
		create, update map[string]*driverpb.Flag
		want           map[string]Field
		wantErr        string
	}{{
		name: "the kontainer-engine example: disk-size-gb",
		create: map[string]*driverpb.Flag{"disk-size-gb": {Type: sdk.IntType, Usage: "Size of the disk attached to each node",
			Default: &driverpb.Default{DefaultInt: 100}}},
		update: map[string]*driverpb.Flag{"disk-size-gb": {Type: sdk.IntType, Usage: "Size of the disk attached to each node"}},
		want: map[string]Field{"diskSizeGb": {Type: TypeInt, Default: int64(100), Description: "Size of the disk attached to each node",
			Create: true, Update: true, Flag: "disk-size-gb", FlagType: sdk.IntType}},
	}, {
		name: "every type",
		create: map[string]*driverpb.Flag{
			"region":            {Type: sdk.StringType, Usage: "where", Default: &driverpb.Default{DefaultString: "eu-1"}},
			"enable-alpha":      {Type: sdk.BoolType, Default: &driverpb.Default{DefaultBool: true}},
			"private-nodes":     {Type: sdk.BoolPointerType},
			"node_count":        {Type: sdk.IntPointerType, Default: &driverpb.Default{DefaultInt: 3}},
			"master-cidrs":      {Type: sdk.StringSliceType, Default: &driverpb.Default{DefaultStringSlice: &driverpb.StringSlice{Value: []string{"10.0.0.0/8"}}}},
			"client-secret":     {Type: sdk.StringType, Password: true, Default: &driverpb.Default{DefaultString: "never-shown"}},
			"kubernetesVersion": {Type: sdk.StringType},
		},
		want: map[string]Field{
			"region":            {Type: TypeString, Default: "eu-1", Description: "where", Create: true, Flag: "region", FlagType: sdk.StringType},
			"enableAlpha":       {Type: TypeBoolean, Default: true, Create: true, Flag: "enable-alpha", FlagType: sdk.BoolType},
			"privateNodes":      {Type: TypeBoolean, Nullable: true, Create: true, Flag: "private-nodes", FlagType: sdk.BoolPointerType},
			"nodeCount":         {Type: TypeInt, Default: int64(3), Nullable: true, Create: true, Flag: "node_count", FlagType: sdk.IntPointerType},
			"masterCidrs":       {Type: TypeStringSlice, Default: []string{"10.0.0.0/8"}, Create: true, Flag: "master-cidrs", FlagType: sdk.StringSliceType},
			"clientSecret":      {Type: TypeString, Password: true, Create: true, Flag: "client-secret", FlagType: sdk.StringType},
			"kubernetesVersion": {Type: TypeString, Create: true, Flag: "kubernetesVersion", FlagType: sdk.StringType},
		},
	}, {
		name:   "update only",
		update: map[string]*driverpb.Flag{"node-count": {Type: sdk.IntType, Usage: "nodes"}},
		want:   map[string]Field{"nodeCount": {Type: TypeInt, Description: "nodes", Update: true, Flag: "node-count", FlagType: sdk.IntType}},
	}, {
		name:   "reserved names are Drover's",
		create: map[string]*driverpb.Flag{"name": {Type: sdk.StringType}, "display-name": {Type: sdk.StringType}},
		want:   map[string]Field{},
	}, {
		name:    "unknown type",
		create:  map[string]*driverpb.Flag{"x": {Type: "float"}},
		wantErr: `flag "x" has unknown type "float"`,
	}, {
		name:    "two flags, one field",
		create:  map[string]*driverpb.Flag{"disk-size": {Type: sdk.IntType}, "disk_size": {Type: sdk.IntType}},
		wantErr: `both become field "diskSize"`,
	}, {
		name:    "type differs between create and update",
		create:  map[string]*driverpb.Flag{"size": {Type: sdk.IntType}},
		update:  map[string]*driverpb.Flag{"size": {Type: sdk.StringType}},
		wantErr: `flag "size" is a int on create but a string on update`,
	}, {
		name:    "no usable name",
		create:  map[string]*driverpb.Flag{"--": {Type: sdk.IntType}},
		wantErr: `flag "--" has no usable name`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromFlags("test", flags(tt.create), flags(tt.update))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDriverCamelCase(t *testing.T) {
	for in, want := range map[string]string{
		"disk-size-gb": "diskSizeGb", "node_count": "nodeCount", "region": "region", "Name": "name",
		"enableHTTP": "enableHTTP", "enable-HTTP-proxy": "enableHTTPProxy", "-a--b-": "aB", "": "", "x": "x",
	} {
		if got := sdk.CamelCase(in); got != want {
			t.Errorf("CamelCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func testSchema(t testing.TB) Schema {
	s, err := FromFlags("local", flags(map[string]*driverpb.Flag{
		"data-dir":       {Type: sdk.StringType},
		"event-ttl":      {Type: sdk.StringType, Default: &driverpb.Default{DefaultString: "1h"}},
		"etcd-quota-mb":  {Type: sdk.IntType, Default: &driverpb.Default{DefaultInt: 2048}},
		"no-fsync":       {Type: sdk.BoolType, Default: &driverpb.Default{DefaultBool: true}},
		"audit":          {Type: sdk.BoolPointerType},
		"extra-args":     {Type: sdk.StringSliceType},
		"admin-password": {Type: sdk.StringType, Password: true},
	}), flags(map[string]*driverpb.Flag{
		"event-ttl": {Type: sdk.StringType},
		"replicas":  {Type: sdk.IntPointerType},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDriverConfigValidate(t *testing.T) {
	s := testSchema(t)
	tests := []struct {
		in      string
		want    Config
		wantErr string
	}{
		{in: ``, want: Config{}},
		{in: `null`, want: Config{}},
		{in: `{"dataDir":"/x","etcdQuotaMb":10,"noFsync":false,"extraArgs":["a"],"audit":null}`,
			want: Config{"dataDir": "/x", "etcdQuotaMb": int64(10), "noFsync": false, "extraArgs": []string{"a"}}},
		{in: `[]`, wantErr: "config must be a JSON object"},
		{in: `{"diskSize":1}`, wantErr: `config.diskSize is not a field of the "local" driver's config (it has: adminPassword, audit, dataDir,`},
		{in: `{"data-dir":"/x"}`, wantErr: `config.data-dir is not a field`},
		{in: `{"etcdQuotaMb":"10"}`, wantErr: "config.etcdQuotaMb must be a whole number"},
		{in: `{"etcdQuotaMb":1.5}`, wantErr: "config.etcdQuotaMb must be a whole number that fits in 64 bits"},
		{in: `{"etcdQuotaMb":1e99}`, wantErr: "config.etcdQuotaMb must be a whole number that fits in 64 bits"},
		{in: `{"noFsync":"yes"}`, wantErr: "config.noFsync must be a boolean"},
		{in: `{"extraArgs":[1]}`, wantErr: "config.extraArgs must be an array of strings"},
		{in: `{"adminPassword":42}`, wantErr: "config.adminPassword must be a string"},
		{in: `{"replicas":3}`, wantErr: "config.replicas can only be set on update"},
	}
	for _, tt := range tests {
		got, err := s.Validate(json.RawMessage(tt.in))
		if tt.wantErr != "" {
			var fe *FieldError
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !asFieldError(err, &fe) {
				t.Errorf("Validate(%s) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Validate(%s): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Validate(%s) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func asFieldError(err error, fe **FieldError) bool {
	e, ok := err.(*FieldError)
	*fe = e
	return ok
}

func TestDriverConfigUpdateAndOptions(t *testing.T) {
	s := testSchema(t)
	old, err := s.Validate(json.RawMessage(`{"dataDir":"/x","adminPassword":"s3cret"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(old, json.RawMessage(`{"dataDir":"/y"}`)); err == nil || err.Error() != "config.dataDir cannot be changed after the cluster was created" {
		t.Errorf("changing a create-only field: %v", err)
	}
	got, err := s.Update(old, json.RawMessage(`{"dataDir":"/x","eventTtl":"2h","replicas":2}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{"dataDir": "/x", "adminPassword": "s3cret", "eventTtl": "2h", "replicas": int64(2)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Update (-want +got):\n%s", diff)
	}
	if _, ok := s.Redact(got)["adminPassword"]; ok {
		t.Error("Redact kept the password")
	}
	o := s.Options(got, false)
	if o.StringOptions["event-ttl"] != "2h" || o.StringOptions["eventTtl"] != "2h" || o.IntOptions["etcd-quota-mb"] != 2048 ||
		!o.BoolOptions["no-fsync"] || o.IntOptions["replicas"] != 2 {
		t.Errorf("Options = %v", o)
	}
	if _, ok := o.BoolOptions["audit"]; ok {
		t.Error("an unset boolPtr was sent")
	}
	if v := sdk.GetIntPtr(o, "replicas"); v == nil || *v != 2 {
		t.Errorf("GetIntPtr = %v", v)
	}
	if _, ok := s.Options(got, true).IntOptions["replicas"]; ok {
		t.Error("an update-only field was sent on create")
	}
	b, _ := json.Marshal(got)
	back, err := s.Decode(b)
	if err != nil || !cmp.Equal(back, got) {
		t.Errorf("Decode round trip: %v, %v", back, err)
	}
}

// FuzzValidate: any body either fails with a FieldError whose message does
// not repeat a long value, or yields a config of the schema's types that
// survives a JSON round trip.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{`{}`, `{"dataDir":"/x","etcdQuotaMb":3}`, `{"extraArgs":["a","b"]}`, `{"noFsync":null}`,
		`{"adminPassword":"secret-value-123"}`, `[1]`, `{"etcdQuotaMb":-9223372036854775808}`, `{"a":`} {
		f.Add([]byte(seed))
	}
	s := testSchema(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := s.Validate(raw)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.Contains(err.Error(), "secret-value-123") {
				t.Fatalf("error repeats a value: %v", err)
			}
			return
		}
		for k, v := range c {
			f := s.Fields[k]
			switch v.(type) {
			case string:
				if f.Type != TypeString {
					t.Fatalf("%s: string for %s", k, f.Type)
				}
			case bool:
				if f.Type != TypeBoolean {
					t.Fatalf("%s: bool for %s", k, f.Type)
				}
			case int64:
				if f.Type != TypeInt {
					t.Fatalf("%s: int64 for %s", k, f.Type)
				}
			case []string:
				if f.Type != TypeStringSlice {
					t.Fatalf("%s: []string for %s", k, f.Type)
				}
			default:
				t.Fatalf("%s: value of type %T", k, v)
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := s.Decode(b)
		if err != nil || !cmp.Equal(back, c) {
			t.Fatalf("round trip: %v -> %s -> %v (%v)", c, b, back, err)
		}
		_ = s.Options(c, true)
	})
}
