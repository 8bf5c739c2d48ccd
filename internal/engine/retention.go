package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-health/concord"
)

// retentionEvery is how often the retention job runs; pruneBatch caps the
// messages pruned in one transaction.
const (
	retentionEvery = time.Hour
	pruneBatch     = 1000
)

// retain drops the content of messages older than the retention period,
// at start and then every hour, until ctx ends.
func (e *Engine) retain(ctx context.Context) {
	for {
		if n, err := e.Prune(ctx); err != nil {
			e.opt.Logger.Error("retention", "err", err)
		} else if n > 0 {
			e.opt.Logger.Info("retention: message content dropped", "messages", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retentionEvery):
		}
	}
}

// Prune drops the content of messages received before the retention
// period, in batches, each with its audit record, and returns how many it
// pruned. Messages with deliveries still queued keep their content.
func (e *Engine) Prune(ctx context.Context) (int, error) {
	if e.opt.Retention <= 0 {
		return 0, nil
	}
	cutoff := e.opt.Now().Add(-e.opt.Retention)
	total := 0
	for ctx.Err() == nil {
		n := 0
		err := e.opt.Store.Update(ctx, func(tx concord.Tx) error {
			var err error
			if n, err = tx.PruneContent(ctx, cutoff, pruneBatch); err != nil || n == 0 {
				return err
			}
			rec := concord.AuditRecord{
				Time: e.opt.Now(), Actor: "system:retention", Role: "system", Address: "local", Node: e.opt.Node,
				Action: concord.AuditDelete, Object: "messages",
				Detail: fmt.Sprintf("content of %d messages received before %s dropped (retention %s)", n, cutoff.UTC().Format(time.RFC3339), e.opt.Retention),
			}
			return tx.AppendAudit(ctx, &rec)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	return total, nil
}
