package subscription

import (
	"net/url"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
)

// Subscriptions R5 Backport (STU 1.1) URLs.
const (
	backportBase           = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
	extFilterCriteria      = backportBase + "backport-filter-criteria"
	extPayloadContent      = backportBase + "backport-payload-content"
	extHeartbeat           = backportBase + "backport-heartbeat-period"
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
// its filters are that type's search parameters. Topics defined by
// clients (R4 Basic resources carrying the backport's SubscriptionTopic
// extensions) are not read.
const TopicBase = "http://concord-health.org/fhir/SubscriptionTopic/"

// isTopic reports whether criteria names a topic (a canonical URL)
// rather than an R4 search.
func isTopic(criteria string) bool {
	head, _, _ := strings.Cut(criteria, "?")
	return strings.Contains(head, "://")
}

// topicType returns the resource type of a built-in topic.
func topicType(topic string) (string, error) {
	typ, ok := strings.CutPrefix(strings.SplitN(topic, "|", 2)[0], TopicBase) // a version after | is ignored
	if !ok || !fhir.IsResource(typ) {
		return "", concord.Errorf(concord.EINVALID, "Subscription.criteria: unknown topic %q (this server's topics are %s<resource type>)",
			truncate(topic, 200), TopicBase)
	}
	return typ, nil
}

// topicCriteria returns the resource type and search parameters of a
// topic-based subscription: the topic's type, and the filters of every
// backport-filter-criteria extension ("Type?params", or "params"),
// which must all hold.
func topicCriteria(topic string, filters []string) (string, url.Values, error) {
	typ, err := topicType(topic)
	if err != nil {
		return "", nil, err
	}
	params := url.Values{}
	for _, f := range filters {
		q := f
		if t, rest, ok := strings.Cut(f, "?"); ok {
			if t != typ {
				return "", nil, concord.Errorf(concord.EINVALID, "filter criteria %q: the topic's resources are %s", truncate(f, 200), typ)
			}
			q = rest
		}
		_, vals, err := parseCriteria(typ + "?" + q)
		if err != nil {
			return "", nil, err
		}
		for k, vs := range vals {
			params[k] = append(params[k], vs...)
		}
	}
	return typ, params, nil
}
