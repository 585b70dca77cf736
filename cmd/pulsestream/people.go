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

	"github.com/pulsestream/pulsestream/internal/config"
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

// peopleCLI opens the store and the people service for a user or member
// command.
func peopleCLI(e *env, cfg config.Config) (pulse.Store, *people.Service, error) {
	s, err := openCLIStore(e, cfg)
	if err != nil {
		return nil, nil, err
	}
	return s, cliPeople(s, e.stderr), nil
}

func userCreateSetup(fs *flag.FlagSet) runFunc {
	name := fs.String("name", "", "the person's display name")
	operator := fs.Bool("operator", false, "make the user an operator (manages every tenant)")
	ownerOf := fs.String("owner-of", "", "make the user the owner of this tenant (the tenant's first owner)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("user create", pos, 1); err != nil {
			return err
		}
		pw, err := readPassword(e.stdin, *pwStdin, e.stderr)
		if err != nil {
			return err
		}
		s, svc, err := peopleCLI(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		in := people.NewUser{Email: pos[0], Name: *name, Password: pw, Operator: *operator}
		var u *pulse.User
		if *ownerOf != "" {
			u, err = svc.CreateFirstOwner(e.ctx, cliOperator, *ownerOf, in)
		} else {
			u, err = svc.CreateUser(e.ctx, cliOperator, in)
		}
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(e.stdout, "user_id: %s\nemail: %s\noperator: %t\n", u.ID, u.Email, u.Operator)
		if *ownerOf != "" {
			fmt.Fprintf(e.stdout, "owner_of: %s\n", *ownerOf)
		}
		return nil
	}
}

func userListSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("user list", pos, 0); err != nil {
			return err
		}
		s, svc, err := peopleCLI(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		users, err := svc.ListUsers(e.ctx, cliOperator)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tOPERATOR\tDISABLED\tTOTP\tCREATED_AT")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%t\t%s\n", u.ID, u.Email, dash(u.Name), u.Operator, u.Disabled, u.TOTPSecret != "", u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
}

func userSetPasswordSetup(fs *flag.FlagSet) runFunc {
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("user set-password", pos, 1); err != nil {
			return err
		}
		return withUser(e, cfg, pos[0], func(svc *people.Service, u *pulse.User) error {
			pw, err := readPassword(e.stdin, *pwStdin, e.stderr)
			if err != nil {
				return err
			}
			if _, err := svc.SetPassword(e.ctx, cliOperator, u.ID, pw); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(e.stdout, "password of %s changed; their sessions ended\n", u.Email)
			return nil
		})
	}
}

func userDisableSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("user disable", pos, 1); err != nil {
			return err
		}
		return withUser(e, cfg, pos[0], func(svc *people.Service, u *pulse.User) error {
			if _, err := svc.Disable(e.ctx, cliOperator, u.ID); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(e.stdout, "user %s disabled; their sessions ended\n", u.Email)
			return nil
		})
	}
}

// withUser opens the store and runs fn with the user named by ref (id or
// email).
func withUser(e *env, cfg config.Config, ref string, fn func(*people.Service, *pulse.User) error) error {
	s, svc, err := peopleCLI(e, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := svc.FindUser(e.ctx, cliOperator, ref)
	if err != nil {
		return cliError(userErr(err))
	}
	return fn(svc, u)
}

func userErr(err error) error {
	if pulse.IsNotFound(err) {
		return pulse.Errorf(pulse.ENOTFOUND, "user not found")
	}
	return err
}

func memberAddSetup(fs *flag.FlagSet) runFunc {
	role := fs.String("role", "", "owner, admin, member or viewer")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("member add", pos, 2); err != nil {
			return err
		}
		if *role == "" {
			return errors.New("member add needs --role owner|admin|member|viewer")
		}
		return withUser(e, cfg, pos[1], func(svc *people.Service, u *pulse.User) error {
			m, _, err := svc.SetMember(e.ctx, cliOperator, pos[0], u.ID, pulse.Role(*role))
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(e.stdout, "%s is %s of tenant %s\n", u.Email, m.Role, m.TenantID)
			return nil
		})
	}
}

func memberRemoveSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("member remove", pos, 2); err != nil {
			return err
		}
		return withUser(e, cfg, pos[1], func(svc *people.Service, u *pulse.User) error {
			if err := svc.RemoveMember(e.ctx, cliOperator, pos[0], u.ID); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(e.stdout, "%s removed from tenant %s\n", u.Email, pos[0])
			return nil
		})
	}
}

func memberListSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("member list", pos, 1); err != nil {
			return err
		}
		s, svc, err := peopleCLI(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		ms, err := svc.Members(e.ctx, cliOperator, pos[0])
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER_ID\tEMAIL\tNAME\tROLE\tDISABLED\tSINCE")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", m.UserID, m.Email, dash(m.Name), m.Role, m.Disabled, m.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
}
