package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
	"github.com/concord-health/concord/internal/config"
)

func newToken(s *settings) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke bearer tokens"}
	cmd.AddCommand(newTokenCreate(s), newTokenList(s), newTokenRevoke(s))
	return cmd
}

// parseTTL reads a lifetime: a Go duration (90m, 12h) or whole days (30d).
func parseTTL(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--ttl %q: want a positive duration such as 12h or 30d", s)
	}
	return d, nil
}

func newTokenCreate(s *settings) *cobra.Command {
	var role, patient, label, ttl string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "create --role ROLE [--patient ID] [--scope S]... [--ttl D]",
		Short: "Create a token and print it (shown only this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := concord.ParseRole(role)
			if err != nil {
				return err
			}
			d, err := parseTTL(ttl)
			if err != nil {
				return err
			}
			return s.withStore(func(ctx context.Context, cfg config.Config, store concord.Store) error {
				by := operator(cfg)
				tok, bearer, err := auth.Issue(ctx, store, concord.TokenRequest{
					Role: r, Patient: patient, Scopes: scopes, Label: label, TTL: d, CreatedBy: by.Actor,
				}, by, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "token %s: role %s, scopes %s, expires %s\n",
					tok.ID, tok.Role, joinOr(tok.Scopes, "none"), tok.ExpiresAt.Format(time.RFC3339))
				fmt.Println(bearer)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "admin, clinician, integration, auditor or patient (required)")
	f.StringVar(&patient, "patient", "", "bind the token to this patient (FHIR id); required for role patient")
	f.StringArrayVar(&scopes, "scope", nil, "SMART scope, e.g. patient/Observation.rs or system/*.cruds (repeatable; default: the role's)")
	f.StringVar(&ttl, "ttl", "24h", "lifetime, e.g. 12h or 30d (at most 366d)")
	f.StringVar(&label, "label", "", "what or who the token is for")
	cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenList(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return s.withStore(listTokens)
		},
	}
}

func listTokens(ctx context.Context, cfg config.Config, store concord.Store) error {
	toks, err := store.Tokens(ctx)
	if err != nil {
		return err
	}
	if err := appendOperatorAudit(ctx, store, cfg, concord.AuditRead, "tokens", fmt.Sprintf("token list: %d tokens", len(toks))); err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tPATIENT\tSCOPES\tSTATUS\tEXPIRES\tCREATED BY\tLABEL")
	for _, t := range toks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, orDash(t.Patient),
			joinOr(t.Scopes, "-"), t.Status(now), t.ExpiresAt.Format(time.RFC3339), orDash(t.CreatedBy), orDash(t.Label))
	}
	return tw.Flush()
}

func newTokenRevoke(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return s.withStore(func(ctx context.Context, cfg config.Config, store concord.Store) error {
				if err := auth.Revoke(ctx, store, args[0], operator(cfg), time.Now()); err != nil {
					return err
				}
				fmt.Printf("token %s revoked\n", args[0])
				return nil
			})
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
