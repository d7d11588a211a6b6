package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
)

// pathSegment escapes a user-given value for one segment of an API path.
func pathSegment(s string) string { return url.PathEscape(s) }

type userView struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Admin     bool      `json:"admin"`
	Provider  string    `json:"provider"`
	Disabled  bool      `json:"disabled"`
	Groups    []string  `json:"groups"`
	CreatedAt time.Time `json:"createdAt"`
}

func newUsersCommand(g *global, stdin io.Reader) *cobra.Command {
	o := &apiOptions{global: g}
	cmd := &cobra.Command{
		Use:     "users",
		Short:   "List, create, disable, enable and delete users (admins)",
		Example: "  drover users\n  echo \"$PASSWORD\" | drover users create bob --password-stdin\n  drover users disable bob",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.PersistentFlags())
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			var list struct{ Items []userView }
			m, err := o.fetch(ctx, http.MethodGet, "/v3/users", nil, &list)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(list.Items))
			for _, u := range list.Items {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				rows = append(rows, []string{u.Username, u.ID, u.Provider, fmt.Sprint(u.Admin), state, strings.Join(u.Groups, ","), o.age(u.CreatedAt)})
			}
			return o.print(m, []string{"USERNAME", "ID", "PROVIDER", "ADMIN", "STATE", "GROUPS", "AGE"}, rows)
		})(c, args)
	}
	cmd.AddCommand(newUserCreateCommand(o, stdin))
	cmd.AddCommand(newUserStateCommands(o)...)
	return cmd
}

type userCreateOptions struct {
	*apiOptions
	Name          string
	Admin         bool
	PasswordStdin bool
}

func (o *userCreateOptions) Validate() error {
	if !o.PasswordStdin {
		return errors.New("the new user's password is read from stdin: add --password-stdin")
	}
	return o.apiOptions.Validate()
}

func newUserCreateCommand(ao *apiOptions, stdin io.Reader) *cobra.Command {
	o := &userCreateOptions{apiOptions: ao}
	cmd := &cobra.Command{
		Use:     "create <username>",
		Short:   "Create a local user (its password from stdin, never from the command line)",
		Example: "  echo \"$PASSWORD\" | drover users create bob --password-stdin\n  drover users create ops-admin --admin --password-stdin < pw.txt",
		Args:    cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&o.Admin, "admin", false, "make the user a global admin")
	cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin (one trailing newline is dropped)")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, stdin)
		o.Name = args[0]
		return cmdline.RunE(o, func(ctx context.Context, o *userCreateOptions) error {
			pw, err := cli.ReadPassword(o.in)
			if err != nil {
				return err
			}
			defer clear(pw)
			var u userView
			if err := o.call(ctx, http.MethodPost, "/v3/users", map[string]any{"username": o.Name, "password": string(pw), "admin": o.Admin}, &u); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "User %s (%s) created.\n", cli.Printable(u.Username), u.ID)
			return nil
		})(c, args)
	}
	return cmd
}

type bindingView struct {
	ID          string    `json:"id"`
	Scope       string    `json:"scope"`
	ClusterID   string    `json:"clusterId"`
	ProjectID   string    `json:"projectId"`
	Role        string    `json:"role"`
	SubjectKind string    `json:"subjectKind"`
	Subject     string    `json:"subject"`
	Username    string    `json:"username"`
	CreatedAt   time.Time `json:"createdAt"`
}

type bindingsOptions struct {
	*apiOptions
	Cluster, Project, Scope string
}

func newBindingsCommand(g *global) *cobra.Command {
	o := &bindingsOptions{apiOptions: &apiOptions{global: g}}
	cmd := &cobra.Command{
		Use:   "bindings",
		Short: "List, grant and revoke roles (bindings)",
		Long: "With no subcommand, list the bindings you may see (admins: all; owners: their\n" +
			"clusters'; everyone: their own), optionally of one --cluster or --project.",
		Example: "  drover bindings --cluster prod\n" +
			"  drover bindings grant read-only --cluster prod --user bob\n" +
			"  drover bindings grant cluster-owner --cluster prod --group ldap:ops\n" +
			"  drover bindings revoke b-abc123def4",
		Args: cmdline.NoArgs,
	}
	o.Flags(cmd.PersistentFlags())
	cmd.Flags().StringVar(&o.Cluster, "cluster", "", "only this cluster's bindings (id or name)")
	cmd.Flags().StringVar(&o.Project, "project", "", "only this project's bindings (project id)")
	cmd.Flags().StringVar(&o.Scope, "scope", "", "only this scope: global, cluster or project")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, listBindings)(c, args)
	}
	cmd.AddCommand(newBindingGrantCommand(o.apiOptions), newBindingRevokeCommand(o.apiOptions))
	return cmd
}

func listBindings(ctx context.Context, o *bindingsOptions) error {
	q := url.Values{}
	if o.Cluster != "" {
		id, err := (&clusterArgs{apiOptions: o.apiOptions, Cluster: o.Cluster}).resolve(ctx)
		if err != nil {
			return err
		}
		q.Set("clusterId", id)
	}
	if o.Project != "" {
		q.Set("projectId", o.Project)
	}
	if o.Scope != "" {
		q.Set("scope", o.Scope)
	}
	path := "/v3/bindings"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var list struct{ Items []bindingView }
	m, err := o.fetch(ctx, http.MethodGet, path, nil, &list)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(list.Items))
	for _, b := range list.Items {
		subject := b.Subject
		if b.Username != "" {
			subject = b.Username
		}
		where := b.ClusterID
		if b.ProjectID != "" {
			where = b.ProjectID
		}
		rows = append(rows, []string{b.ID, b.Scope, where, b.Role, b.SubjectKind, subject, o.age(b.CreatedAt)})
	}
	return o.print(m, []string{"ID", "SCOPE", "IN", "ROLE", "KIND", "SUBJECT", "AGE"}, rows)
}

type grantOptions struct {
	*apiOptions
	Role, Cluster, Project, User, Group string
}

func (o *grantOptions) Validate() error {
	if (o.User == "") == (o.Group == "") {
		return errors.New("name one subject: --user or --group")
	}
	if o.Cluster != "" && o.Project != "" {
		return errors.New("--cluster and --project name different scopes: give one (a project names its cluster)")
	}
	return o.apiOptions.Validate()
}

func newBindingGrantCommand(ao *apiOptions) *cobra.Command {
	o := &grantOptions{apiOptions: ao}
	cmd := &cobra.Command{
		Use:   "grant <role>",
		Short: "Grant a role: global (admin), in a --cluster, or in a --project",
		Long: "Roles: admin (global); cluster-owner, cluster-member, read-only (--cluster);\n" +
			"project-owner, project-member, read-only (--project).",
		Example: "  drover bindings grant read-only --cluster prod --user bob\n  drover bindings grant admin --group ldap:ops",
		Args:    cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&o.Cluster, "cluster", "", "the cluster (id or name)")
	cmd.Flags().StringVar(&o.Project, "project", "", "the project (id)")
	cmd.Flags().StringVar(&o.User, "user", "", "the user (username or id)")
	cmd.Flags().StringVar(&o.Group, "group", "", "the group (e.g. ldap:cn=ops,ou=groups,dc=example,dc=org)")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		o.Role = args[0]
		return cmdline.RunE(o, grant)(c, args)
	}
	return cmd
}

func grant(ctx context.Context, o *grantOptions) error {
	body := map[string]string{"role": o.Role, "scope": "global", "subjectKind": "user", "subject": o.User}
	if o.Group != "" {
		body["subjectKind"], body["subject"] = "group", o.Group
	}
	switch {
	case o.Cluster != "":
		id, err := (&clusterArgs{apiOptions: o.apiOptions, Cluster: o.Cluster}).resolve(ctx)
		if err != nil {
			return err
		}
		body["scope"], body["clusterId"] = "cluster", id
	case o.Project != "":
		body["scope"], body["projectId"] = "project", o.Project
	}
	var b bindingView
	if err := o.call(ctx, http.MethodPost, "/v3/bindings", body, &b); err != nil {
		return err
	}
	fmt.Fprintf(o.out, "Binding %s: %s %s is %s in %s.\n", b.ID, b.SubjectKind, cli.Printable(body["subject"]), cli.Printable(b.Role), scopeName(b))
	return nil
}

func scopeName(b bindingView) string {
	switch {
	case b.ProjectID != "":
		return "project " + b.ProjectID
	case b.ClusterID != "":
		return "cluster " + b.ClusterID
	}
	return "every cluster (global)"
}

func newBindingRevokeCommand(o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "revoke <binding id>",
		Short:   "Remove a binding (the access is gone downstream at once)",
		Example: "  drover bindings revoke b-abc123def4",
		Args:    cobra.ExactArgs(1),
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		id := args[0]
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			if err := o.call(ctx, http.MethodDelete, "/v3/bindings/"+pathSegment(id), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "Binding %s removed.\n", cli.Printable(id))
			return nil
		})(c, args)
	}
	return cmd
}

// resolveUser returns the id of the user named by username or id.
func resolveUser(ctx context.Context, o *apiOptions, name string) (userView, error) {
	var list struct{ Items []userView }
	if _, err := o.fetch(ctx, http.MethodGet, "/v3/users", nil, &list); err != nil {
		return userView{}, err
	}
	for _, u := range list.Items {
		if u.ID == name || u.Username == name {
			return u, nil
		}
	}
	return userView{}, fmt.Errorf("no user %q (drover users lists them)", cli.Printable(name))
}

// userChange is a subcommand of users that acts on one user (admins).
func userChange(o *apiOptions, use, short, example string, act func(ctx context.Context, o *apiOptions, u userView) (string, error)) *cobra.Command {
	cmd := &cobra.Command{Use: use + " <username or id>", Short: short, Example: example, Args: cobra.ExactArgs(1)}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		name := args[0]
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			u, err := resolveUser(ctx, o, name)
			if err != nil {
				return err
			}
			said, err := act(ctx, o, u)
			if err != nil {
				return err
			}
			fmt.Fprintln(o.out, said)
			return nil
		})(c, args)
	}
	return cmd
}

func newUserStateCommands(o *apiOptions) []*cobra.Command {
	set := func(disabled bool) func(ctx context.Context, o *apiOptions, u userView) (string, error) {
		return func(ctx context.Context, o *apiOptions, u userView) (string, error) {
			if err := o.call(ctx, http.MethodPut, "/v3/users/"+pathSegment(u.ID), map[string]bool{"disabled": disabled}, nil); err != nil {
				return "", err
			}
			if disabled {
				return fmt.Sprintf("User %s (%s) disabled: its tokens are revoked and its open streams ended.", cli.Printable(u.Username), u.ID), nil
			}
			return fmt.Sprintf("User %s (%s) enabled: it logs in anew (no old token comes back).", cli.Printable(u.Username), u.ID), nil
		}
	}
	return []*cobra.Command{
		userChange(o, "disable", "Disable a user: every token of it ends at once (admins)", "  drover users disable bob", set(true)),
		userChange(o, "enable", "Enable a disabled user again (admins)", "  drover users enable bob", set(false)),
		userChange(o, "delete", "Delete a user with its tokens and bindings (admins)", "  drover users delete bob",
			func(ctx context.Context, o *apiOptions, u userView) (string, error) {
				if err := o.call(ctx, http.MethodDelete, "/v3/users/"+pathSegment(u.ID), nil, nil); err != nil {
					return "", err
				}
				return fmt.Sprintf("User %s (%s) deleted.", cli.Printable(u.Username), u.ID), nil
			}),
	}
}
