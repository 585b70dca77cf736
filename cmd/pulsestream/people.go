package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// cliPeople is the people service as the CLI uses it: the operator, on
// the database directly, with audit failures reported on stderr.
func cliPeople(s pulse.Store, stderr io.Writer) *people.Service {
	return &people.Service{
		Store: s, Clock: pulse.SystemClock{}, Hasher: password.NewHasher(password.DefaultParams, 1),
		Audit: func(ctx context.Context, e *pulse.AuditEntry) { appendCLIAudit(ctx, s, stderr, e) },
	}
}

var cliOperator = people.OperatorActor(pulse.ActorCLI)

// readPassword reads a new password: the first line of stdin with
// --password-stdin, else twice from the terminal without echo.
func readPassword(stdin io.Reader, fromStdin bool, stderr io.Writer) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, password.MaxLength+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal to ask for the password: pass it on standard input with --password-stdin")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	pw, err := ask("Password (at least 12 characters): ")
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	again, err := ask("Repeat it: ")
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if pw != again {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

const userUsage = `usage:
  pulsestream user create EMAIL [--name NAME] [--operator] [--owner-of TENANT_ID] [--password-stdin]
  pulsestream user list
  pulsestream user set-password USER [--password-stdin]
  pulsestream user disable USER
USER is a user id or an email. The password is asked twice on the terminal
(never echoed), or read from the first line of standard input with
--password-stdin. set-password and disable end the user's sessions at once.
Add -h after a command for its flags.`

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, userUsage)
		return errUsage
	}
	var name, ownerOf string
	var operator, pwStdin bool
	s, pos, err := openCLIStore(ctx, "user "+args[0], args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		switch args[0] {
		case "create":
			fs.StringVar(&name, "name", "", "the person's display name")
			fs.BoolVar(&operator, "operator", false, "make the user an operator (manages every tenant)")
			fs.StringVar(&ownerOf, "owner-of", "", "make the user the owner of this tenant (the tenant's first owner)")
			fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
		case "set-password":
			fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
		}
	})
	if err != nil {
		return err
	}
	defer s.Close()
	svc := cliPeople(s, stderr)
	switch args[0] {
	case "create":
		if len(pos) != 1 {
			return errors.New("user create needs exactly one EMAIL")
		}
		pw, err := readPassword(stdin, pwStdin, stderr)
		if err != nil {
			return err
		}
		in := people.NewUser{Email: pos[0], Name: name, Password: pw, Operator: operator}
		var u *pulse.User
		if ownerOf != "" {
			u, err = svc.CreateFirstOwner(ctx, cliOperator, ownerOf, in)
		} else {
			u, err = svc.CreateUser(ctx, cliOperator, in)
		}
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "user_id: %s\nemail: %s\noperator: %t\n", u.ID, u.Email, u.Operator)
		if ownerOf != "" {
			fmt.Fprintf(stdout, "owner_of: %s\n", ownerOf)
		}
		return nil
	case "list":
		users, err := svc.ListUsers(ctx, cliOperator)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tOPERATOR\tDISABLED\tTOTP\tCREATED_AT")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%t\t%s\n", u.ID, u.Email, dash(u.Name), u.Operator, u.Disabled, u.TOTPSecret != "", u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "set-password", "disable":
		if len(pos) != 1 {
			return fmt.Errorf("user %s needs exactly one USER (id or email)", args[0])
		}
		u, err := svc.FindUser(ctx, cliOperator, pos[0])
		if err != nil {
			return cliError(userErr(err))
		}
		if args[0] == "disable" {
			if _, err := svc.Disable(ctx, cliOperator, u.ID); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(stdout, "user %s disabled; their sessions ended\n", u.Email)
			return nil
		}
		pw, err := readPassword(stdin, pwStdin, stderr)
		if err != nil {
			return err
		}
		if _, err := svc.SetPassword(ctx, cliOperator, u.ID, pw); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions ended\n", u.Email)
		return nil
	}
	return fmt.Errorf("unknown user command %q (create, list, set-password, disable)", args[0])
}

func userErr(err error) error {
	if pulse.IsNotFound(err) {
		return pulse.Errorf(pulse.ENOTFOUND, "user not found")
	}
	return err
}

const memberUsage = `usage:
  pulsestream member add TENANT_ID USER --role owner|admin|member|viewer
  pulsestream member remove TENANT_ID USER
  pulsestream member list TENANT_ID
USER is a user id or an email. add also changes the role of a member. A
tenant keeps at least one owner. A person removed from their last tenant
is signed out at once.`

func memberCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, memberUsage)
		return errUsage
	}
	var role string
	s, pos, err := openCLIStore(ctx, "member "+args[0], args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		if args[0] == "add" {
			fs.StringVar(&role, "role", "", "owner, admin, member or viewer")
		}
	})
	if err != nil {
		return err
	}
	defer s.Close()
	svc := cliPeople(s, stderr)
	switch args[0] {
	case "add", "remove":
		if len(pos) != 2 {
			return fmt.Errorf("member %s needs TENANT_ID and USER (id or email)", args[0])
		}
		u, err := svc.FindUser(ctx, cliOperator, pos[1])
		if err != nil {
			return cliError(userErr(err))
		}
		if args[0] == "remove" {
			if err := svc.RemoveMember(ctx, cliOperator, pos[0], u.ID); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(stdout, "%s removed from tenant %s\n", u.Email, pos[0])
			return nil
		}
		if role == "" {
			return errors.New("member add needs --role owner|admin|member|viewer")
		}
		m, _, err := svc.SetMember(ctx, cliOperator, pos[0], u.ID, pulse.Role(role))
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%s is %s of tenant %s\n", u.Email, m.Role, m.TenantID)
		return nil
	case "list":
		if len(pos) != 1 {
			return errors.New("member list needs exactly one TENANT_ID")
		}
		ms, err := svc.Members(ctx, cliOperator, pos[0])
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER_ID\tEMAIL\tNAME\tROLE\tDISABLED\tSINCE")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", m.UserID, m.Email, dash(m.Name), m.Role, m.Disabled, m.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown member command %q (add, remove, list)", args[0])
}
