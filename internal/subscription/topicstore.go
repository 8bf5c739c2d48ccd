package subscription

import (
	"context"
	"slices"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
)

// topicCache holds the topics defined by clients as of one stamp of the
// Basic resources.
type topicCache struct {
	stamp  concord.ResourceStamp
	topics []*topicDef
}

// topicQuery finds the Basic resources with code SubscriptionTopic (any
// system: the parser checks the rest).
func topicQuery() concord.SearchQuery {
	return concord.SearchQuery{Type: "Basic", Where: []concord.SearchClause{{Param: "code", Kind: "token",
		Values: []concord.SearchValue{{Code: topicCode}}}}}
}

// sortTopics orders topics oldest first (topicOf takes the last match).
func sortTopics(ts []*topicDef) {
	slices.SortStableFunc(ts, func(a, b *topicDef) int { return a.updated.Compare(b.updated) })
}

// storedTopics returns the topics defined by clients, read again when a
// Basic resource was written (the store's resource stamp changed).
func (m *Manager) storedTopics(ctx context.Context) ([]*topicDef, error) {
	st := m.opt.Store
	stamp, err := st.ResourceStamp(ctx, "Basic")
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	c := m.topics
	m.mu.Unlock()
	if c != nil && c.stamp == stamp {
		return c.topics, nil
	}
	// The stamp is read before the topics: one written meanwhile changes
	// it again, and the next call reads it.
	var topics []*topicDef
	const page = 200
	for off := 0; off < maxTopics; off += page {
		q := topicQuery()
		q.Count, q.Offset = page, off
		rs, _, err := st.Search(ctx, &q)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if t := parseTopicBasic(r.Content); t != nil {
				t.updated = r.LastUpdated
				topics = append(topics, t)
			}
		}
		if len(rs) < page {
			break
		}
	}
	sortTopics(topics)
	m.mu.Lock()
	m.topics = &topicCache{stamp: stamp, topics: topics}
	m.mu.Unlock()
	return topics, nil
}

// storeFinder finds topics among the stored ones (matching, delivery).
func (m *Manager) storeFinder(ctx context.Context, canonical string) (*topicDef, error) {
	ts, err := m.storedTopics(ctx)
	if err != nil {
		return nil, err
	}
	return topicOf(ts, canonical), nil
}

// txFinder finds topics as transaction tx sees them (admission: a topic
// written in the same transaction counts, and the topic read is locked
// until the Subscription is stored, so that it is not retired meanwhile).
func txFinder(tx concord.Tx) topicFinder {
	return func(ctx context.Context, canonical string) (*topicDef, error) {
		q := topicQuery()
		ids, err := tx.SearchIDs(ctx, &q, maxTopics)
		if err != nil {
			return nil, err
		}
		var topics []*topicDef
		for _, id := range ids {
			r, err := tx.CurrentResource(ctx, "Basic", id)
			if err != nil {
				return nil, err
			}
			if r == nil || r.Deleted {
				continue
			}
			if t := parseTopicBasic(r.Content); t != nil {
				t.updated = r.LastUpdated
				topics = append(topics, t)
			}
		}
		sortTopics(topics)
		return topicOf(topics, canonical), nil
	}
}

// CapabilityExtensions returns the extensions the CapabilityStatement
// carries on its resource entries (fhirapi.Options.ResourceExtensions):
// on Subscription, the backport's subscription-topic canonical of every
// topic served — one built-in topic per resource type, and each active
// topic defined by a client that this server can serve.
func (m *Manager) CapabilityExtensions(ctx context.Context) (map[string][]any, error) {
	topics, err := m.storedTopics(ctx)
	if err != nil {
		return nil, err
	}
	var exts []any
	for _, typ := range fhir.ResourceTypes() {
		exts = append(exts, map[string]string{"url": extTopicCanonical, "valueCanonical": TopicBase + typ})
	}
	seen := map[string]bool{}
	for _, t := range slices.Backward(topics) {
		if t.status != "active" || t.err != nil {
			continue
		}
		c := t.url
		if t.version != "" {
			c += "|" + t.version
		}
		if !seen[c] {
			seen[c] = true
			exts = append(exts, map[string]string{"url": extTopicCanonical, "valueCanonical": c})
		}
	}
	return map[string][]any{"Subscription": exts}, nil
}
