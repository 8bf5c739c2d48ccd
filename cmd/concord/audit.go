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
	"github.com/concord-health/concord/internal/config"
)

func newAudit(s *settings) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the audit trail"}
	cmd.AddCommand(newAuditVerify(s), newAuditExport(s))
	return cmd
}

// appendOperatorAudit records what the operator at the command line did.
func appendOperatorAudit(ctx context.Context, store concord.Store, cfg config.Config, action, object, detail string) error {
	rec := operator(cfg)
	rec.Time, rec.Action, rec.Object, rec.Detail = time.Now(), action, object, detail
	return store.Update(ctx, func(tx concord.Tx) error { r := rec; return tx.AppendAudit(ctx, &r) })
}

func newAuditVerify(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Recompute the hash chain; exit non-zero at the first broken record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return s.withStore(verifyAudit)
		},
	}
}

func verifyAudit(ctx context.Context, cfg config.Config, store concord.Store) error {
	head, brk, err := concord.VerifyAudit(ctx, store)
	if err != nil {
		return err
	}
	if brk != nil {
		appendOperatorAudit(ctx, store, cfg, concord.AuditRead, "audit", fmt.Sprintf("audit verify: broken at record %d", brk.Seq))
		return &exitError{code: 1, err: fmt.Errorf("audit trail broken: %w", brk)}
	}
	if err := appendOperatorAudit(ctx, store, cfg, concord.AuditRead, "audit", fmt.Sprintf("audit verify: %d records intact", head.Seq)); err != nil {
		return err
	}
	fmt.Printf("audit trail intact: %d records, head %d %s\n", head.Seq, head.Seq, head.Hash)
	return nil
}

func newAuditExport(s *settings) *cobra.Command {
	var since, until, out string
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--out FILE]",
		Short: "Write audit records as FHIR AuditEvent NDJSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var f concord.AuditFilter
			var err error
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
			return s.withStore(func(ctx context.Context, cfg config.Config, store concord.Store) error {
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
				return appendOperatorAudit(ctx, store, cfg, concord.AuditRead, "audit",
					fmt.Sprintf("audit export: %d records since %q until %q", n, since, until))
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "records at or after: RFC 3339 time, date, or age such as 24h or 7d")
	cmd.Flags().StringVar(&until, "until", "", "records before: same forms as --since")
	cmd.Flags().StringVar(&out, "out", "", "write to FILE instead of standard output")
	return cmd
}
