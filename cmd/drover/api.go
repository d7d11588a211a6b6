package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/cli"
)

// apiOptions are what every command that calls the API takes: the global
// flags, the streams and --output.
type apiOptions struct {
	*global
	streams
	Output string
}

func (o *apiOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Output, "output", "o", "table", "output format: table, json or yaml")
}

func (o *apiOptions) Validate() error { return checkOutput(o.Output) }

// session returns the logged-in server and a client of its API.
func (o *apiOptions) session(ctx context.Context) (*cli.Server, *cli.Client, error) {
	s, err := serverOf(ctx, o.global, o.Server)
	if err != nil {
		return nil, nil, err
	}
	c, err := cli.NewClient(s.URL, []byte(s.CA), s.Session)
	return s, c, err
}

// call sends in to path and decodes the answer into out; a refused
// session becomes the message to log in again.
func (o *apiOptions) call(ctx context.Context, method, path string, in, out any) error {
	s, c, err := o.session(ctx)
	if err != nil {
		return err
	}
	return sessionErr(s, c.Do(ctx, method, path, in, out))
}

// fetch is call, decoding the answer both into typed (what the table
// shows) and as it came (what -o json and yaml show).
func (o *apiOptions) fetch(ctx context.Context, method, path string, in, typed any) (any, error) {
	var raw json.RawMessage
	if err := o.call(ctx, method, path, in, &raw); err != nil {
		return nil, err
	}
	var m any
	if err := json.Unmarshal(raw, typed); err != nil {
		return nil, fmt.Errorf("%s %s: the answer is not what drover expects: %w", method, path, err)
	}
	json.Unmarshal(raw, &m)
	return m, nil
}

// print writes v as JSON or YAML (the API's own fields), or as the table
// of header and rows, every cell made printable.
func (o *apiOptions) print(v any, header []string, rows [][]string) error {
	return printAs(o.out, o.Output, v, header, rows)
}

func printAs(w io.Writer, format string, v any, header []string, rows [][]string) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = strings.ReplaceAll(cli.Printable(c), "\t", " ")
			if cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// age is how long ago t was, the way kubectl shows it.
func (o *apiOptions) age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := o.now().Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// until is how long until t, or "expired".
func (o *apiOptions) until(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	now := o.now()
	if !t.After(now) {
		return "expired"
	}
	return o.age(now.Add(now.Sub(t)))
}
