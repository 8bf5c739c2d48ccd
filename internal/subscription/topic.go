package subscription

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// Subscriptions R5 Backport (STU 1.1) URLs.
const (
	backportBase           = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
	extFilterCriteria      = backportBase + "backport-filter-criteria"
	extPayloadContent      = backportBase + "backport-payload-content"
	extHeartbeat           = backportBase + "backport-heartbeat-period"
	extTopicCanonical      = backportBase + "capabilitystatement-subscriptiontopic-canonical"
	profileStatus          = backportBase + "backport-subscription-status-r4"
	profileNotification    = backportBase + "backport-subscription-notification-r4"
	contentEmpty           = "empty"
	contentIDOnly          = "id-only"
	contentFull            = "full-resource"
	defaultBackportContent = contentIDOnly
)

// maxHeartbeat caps a heartbeat period, in seconds (a day).
const maxHeartbeat = 86400

// TopicBase starts the canonical URL of Concord's built-in subscription
// topics: TopicBase + a resource type (…/SubscriptionTopic/Observation)
// is the topic "a resource of that type was created or updated", and
// its filters are that type's search parameters. Other topics are
// defined by clients as Basic resources (see basictopic.go).
const TopicBase = "http://concord-health.org/fhir/SubscriptionTopic/"

// isTopic reports whether criteria names a topic (a canonical URL)
// rather than an R4 search.
func isTopic(criteria string) bool {
	head, _, _ := strings.Cut(criteria, "?")
	return strings.Contains(head, "://")
}

// clientTopic reports whether the subscription is on a topic defined by
// a client (not an R4 criteria one, nor on a built-in topic).
func (s *sub) clientTopic() bool { t := s.topic(); return t != "" && !isBuiltinTopic(t) }

// isBuiltinTopic reports whether a topic canonical is one of Concord's
// built-in topics (or claims to be).
func isBuiltinTopic(topic string) bool { return strings.HasPrefix(topic, TopicBase) }

// topicType returns the resource type of a built-in topic.
func topicType(topic string) (string, error) {
	typ, ok := strings.CutPrefix(strings.SplitN(topic, "|", 2)[0], TopicBase) // a version after | is ignored
	if !ok || !fhir.IsResource(typ) {
		return "", concord.Errorf(concord.EINVALID, "Subscription.criteria: unknown topic %q (this server's topics are %s<resource type>, and the active SubscriptionTopic Basic resources)",
			truncate(topic, 200), TopicBase)
	}
	return typ, nil
}

// topicCriteria returns the resource type and search parameters of a
// subscription on a built-in topic: the topic's type, and the filters of
// every backport-filter-criteria extension ("Type?params", or "params"),
// which must all hold.
func topicCriteria(topic string, filters []string) (string, url.Values, error) {
	typ, err := topicType(topic)
	if err != nil {
		return "", nil, err
	}
	params := url.Values{}
	for _, f := range filters {
		vals, err := filterParams(f, typ)
		if err != nil {
			return "", nil, err
		}
		for k, vs := range vals {
			params[k] = append(params[k], vs...)
		}
	}
	return typ, params, nil
}

// filterParams reads one backport-filter-criteria value for resources of
// type typ: "Type?params" (Type must be typ) or "params".
func filterParams(f, typ string) (url.Values, error) {
	q := f
	if t, rest, ok := strings.Cut(f, "?"); ok {
		if t != typ {
			return nil, concord.Errorf(concord.EINVALID, "filter criteria %q: the topic's resources are %s", truncate(f, 200), typ)
		}
		q = rest
	}
	_, vals, err := parseCriteria(typ + "?" + q)
	return vals, err
}

// alt is one way a subscription matches versions of a resource type: the
// interactions it takes, a search the version must be found by (the
// topic's current criteria with the subscriber's filters) and a
// FHIRPath criterion.
type alt struct {
	params         url.Values
	create, update bool
	fhirPath       *fhirpath.Expression
}

// plan is what a subscription matches, by resource type: a version
// matches when one of its type's alternatives does.
type plan map[string][]alt

// types returns the plan's resource types, sorted.
func (p plan) types() []string { return slices.Sorted(maps.Keys(p)) }

// topicFinder returns the topic a canonical names (nil when there is
// none, or it is not active).
type topicFinder func(ctx context.Context, canonical string) (*topicDef, error)

// plan returns what the subscription matches. R4 criteria and built-in
// topics match one type, created or updated, by one search; a topic
// defined by a client is found with find and matches by its triggers,
// each with the subscriber's filters added.
func (s *sub) plan(ctx context.Context, find topicFinder) (plan, error) {
	t := s.topic()
	if t == "" || isBuiltinTopic(t) {
		typ, params, err := s.criteria()
		if err != nil {
			return nil, err
		}
		return plan{typ: {{params: params, create: true, update: true}}}, nil
	}
	if len(t) > maxCriteria {
		return nil, concord.Errorf(concord.EINVALID, "Subscription.criteria is longer than %d bytes", maxCriteria)
	}
	def, err := find(ctx, t)
	if err != nil {
		return nil, err
	}
	if def == nil {
		return nil, concord.Errorf(concord.EINVALID, "Subscription.criteria: unknown topic %q: no SubscriptionTopic Basic resource has this url%s (built-in topics are %s<resource type>)",
			truncate(t, 200), map[bool]string{true: " and version"}[strings.Contains(t, "|")], TopicBase)
	}
	if def.status != "active" {
		status := "is " + truncate(def.status, 40)
		if def.status == "" {
			status = "has no status"
		}
		return nil, concord.Errorf(concord.EINVALID, "Subscription.criteria: the topic %q %s, not active (Basic/%s)", truncate(t, 200), status, def.basicID)
	}
	if def.err != nil {
		return nil, def.err
	}
	return def.planWith(s.filters())
}

// filters returns the subscription's backport-filter-criteria values.
func (s *sub) filters() []string {
	var out []string
	for _, e := range s.CriteriaExt.Extension {
		if e.URL == extFilterCriteria {
			out = append(out, e.ValueString)
		}
	}
	return out
}

// planWith returns the plan of a subscription to topic t with the given
// filters: one alternative per trigger, its current criteria and the
// filters that apply to its type ("Type?params" to that type, "params"
// to every trigger's). A filter parameter the topic does not list in
// canFilterBy is refused.
func (t *topicDef) planWith(filters []string) (plan, error) {
	types := map[string]bool{}
	for _, tr := range t.triggers {
		types[tr.typ] = true
	}
	extra := map[string]url.Values{}
	for _, f := range filters {
		ft, _, typed := strings.Cut(f, "?")
		targets := slices.Sorted(maps.Keys(types))
		if typed {
			if !types[ft] {
				return nil, concord.Errorf(concord.EINVALID, "filter criteria %q: the topic %s is about %s", truncate(f, 200), truncate(t.url, 200), strings.Join(targets, ", "))
			}
			targets = []string{ft}
		}
		for _, typ := range targets {
			vals, err := filterParams(f, typ)
			if err != nil {
				return nil, err
			}
			for k := range vals {
				if !t.allows(typ, k) {
					return nil, concord.Errorf(concord.EINVALID, "filter criteria %q: the topic %s does not allow filtering %s by %s (canFilterBy)",
						truncate(f, 200), truncate(t.url, 200), typ, truncate(k, 80))
				}
			}
			if extra[typ] == nil {
				extra[typ] = url.Values{}
			}
			for k, vs := range vals {
				extra[typ][k] = append(extra[typ][k], vs...)
			}
		}
	}
	p := plan{}
	for _, tr := range t.triggers {
		params := url.Values{}
		for k, vs := range tr.current {
			params[k] = slices.Clone(vs)
		}
		for k, vs := range extra[tr.typ] {
			params[k] = append(params[k], vs...)
		}
		p[tr.typ] = append(p[tr.typ], alt{params: params, create: tr.create, update: tr.update, fhirPath: tr.fhirPath})
	}
	return p, nil
}

// allows reports whether subscribers may filter resources of type typ by
// search parameter param (its name before any :modifier).
func (t *topicDef) allows(typ, param string) bool {
	name, _, _ := strings.Cut(param, ":")
	for _, f := range t.filterBy {
		if f.param == name && (f.typ == "" || f.typ == typ) {
			return true
		}
	}
	return false
}
