package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/audit"
)

func newAudit(s *settings) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the audit trail"}
	cmd.AddCommand(newAuditVerify(s), newAuditExport(s))
	return cmd
}

// auditOwnUse records that the operator read the audit trail.
func auditOwnUse(ctx context.Context, store concord.Store, rec concord.AuditRecord, detail string) error {
	rec.Time, rec.Action, rec.Object, rec.Detail = time.Now(), concord.AuditRead, "audit", detail
	return store.Update(ctx, func(tx concord.Tx) error { r := rec; return tx.AppendAudit(ctx, &r) })
}

func newAuditVerify(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Recompute the hash chain; exit non-zero at the first broken record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := s.load()
			if err != nil {
				return err
			}
			ctx := context.Background()
			store, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			head, brk, err := concord.VerifyAudit(ctx, store)
			if err != nil {
				return err
			}
			if brk != nil {
				auditOwnUse(ctx, store, operator(cfg), "audit verify: broken at record "+fmt.Sprint(brk.Seq))
				return &exitError{code: 1, err: fmt.Errorf("audit trail broken: %w", brk)}
			}
			if err := auditOwnUse(ctx, store, operator(cfg), fmt.Sprintf("audit verify: %d records intact", head.Seq)); err != nil {
				return err
			}
			fmt.Printf("audit trail intact: %d records, head %d %s\n", head.Seq, head.Seq, head.Hash)
			return nil
		},
	}
}

func newAuditExport(s *settings) *cobra.Command {
	var since, until, out string
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--out FILE]",
		Short: "Write audit records as FHIR AuditEvent NDJSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := s.load()
			if err != nil {
				return err
			}
			var f concord.AuditFilter
			now := time.Now()
			if since != "" {
				if f.Since, err = audit.ParseSince(since, now); err != nil {
					return err
				}
			}
			if until != "" {
				if f.Until, err = audit.ParseSince(until, now); err != nil {
					return err
				}
			}
			ctx := context.Background()
			store, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			var w io.Writer = os.Stdout
			if out != "" {
				file, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("--out %s: %s", out, reason(err))
				}
				defer file.Close()
				w = file
			}
			n, err := audit.ExportNDJSON(ctx, store, f, w)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%d audit events exported\n", n)
			return auditOwnUse(ctx, store, operator(cfg), fmt.Sprintf("audit export: %d records since %q until %q", n, since, until))
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "records at or after: RFC 3339 time, date, or age such as 24h or 7d")
	cmd.Flags().StringVar(&until, "until", "", "records before: same forms as --since")
	cmd.Flags().StringVar(&out, "out", "", "write to FILE instead of standard output")
	return cmd
}
