package concord

import "time"

// ChangeGap is what a reader of the change log (Store.Changes) knows of
// the gap it is waiting on. A change's seq is taken when it is written,
// not when it commits: with several PostgreSQL nodes a reader can see seq
// n+2 before n+1 commits, and a rolled-back write leaves n+1 missing for
// good. A reader keeps the changes before a gap until the gap is older
// than its grace period, then passes it. The zero value waits on nothing.
type ChangeGap struct {
	seq int64     // the first missing seq of the gap being waited on
	at  time.Time // when it was first seen
}

// Until returns the leading changes of changes (read after cursor, in
// seq order) that come before the first gap younger than grace at now.
func (g *ChangeGap) Until(cursor int64, changes []*Resource, now time.Time, grace time.Duration) []*Resource {
	want := cursor + 1
	for i, r := range changes {
		if r.Seq != want {
			if g.seq != want {
				g.seq, g.at = want, now
			}
			if now.Sub(g.at) < grace {
				return changes[:i]
			}
		}
		want = r.Seq + 1
	}
	return changes
}
