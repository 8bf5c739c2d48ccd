package subscription

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// Topics defined by clients: R4 Basic resources with code
// SubscriptionTopic carrying the cross-version extensions of the
// Subscriptions R5 Backport (STU 1.1). Its R4 example names the topic's
// own elements with the 5.0 prefix (url, version, title, status …) and
// the backbone elements with the 4.3 prefix (resourceTrigger,
// canFilterBy, notificationShape); later builds use 5.0 throughout and
// the artifact-* extensions for url, version, title and status. Every
// one of these spellings is read.
var topicExtPrefixes = []string{
	"http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.",
	"http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.",
	"http://hl7.org/fhir/StructureDefinition/artifact-",
}

// topicCode is Basic.code's code for a topic.
const topicCode = "SubscriptionTopic"

// Limits on a topic defined by a client.
const (
	maxTriggers  = 20
	maxFilterBys = 100
	// maxTopics caps the topic resources read (at admission and by the
	// matcher).
	maxTopics = 1000
	// maxTopicSteps bounds the work of one fhirPathCriteria evaluation.
	maxTopicSteps = 100_000
)

// topicDef is a subscription topic defined by a client, read from a
// Basic resource.
type topicDef struct {
	url, version, status, title string
	basicID                     string // the Basic resource
	// err says why the topic cannot be served (it still has its url,
	// version and status).
	err      error
	triggers []trigger
	// filterBy lists the filter parameters subscribers may use; a topic
	// without any allows no filters.
	filterBy []filterBy
	updated  time.Time // the Basic's lastUpdated
}

// trigger is one resourceTrigger: changes of resource type typ by the
// interactions allowed, that the criteria let through.
type trigger struct {
	typ            string
	create, update bool
	current        url.Values           // queryCriteria.current, nil for none
	fhirPath       *fhirpath.Expression // fhirPathCriteria, nil for none
}

// filterBy is one canFilterBy: parameter param on type typ ("" for every
// type of the topic's triggers).
type filterBy struct {
	typ, param string
}

// topicExt is an extension as topics use them.
type topicExt struct {
	URL           string     `json:"url"`
	ValueString   *string    `json:"valueString"`
	ValueURI      *string    `json:"valueUri"`
	ValueCanon    *string    `json:"valueCanonical"`
	ValueCode     *string    `json:"valueCode"`
	ValueMarkdown *string    `json:"valueMarkdown"`
	ValueBoolean  *bool      `json:"valueBoolean"`
	Extension     []topicExt `json:"extension"`
}

// text returns the extension's string-like value.
func (e *topicExt) text() (string, bool) {
	for _, v := range []*string{e.ValueString, e.ValueURI, e.ValueCanon, e.ValueCode, e.ValueMarkdown} {
		if v != nil {
			return *v, true
		}
	}
	return "", false
}

// topicElement returns the SubscriptionTopic element a top-level
// extension stands for ("" when it is not one).
func topicElement(u string) string {
	for _, p := range topicExtPrefixes {
		if rest, ok := strings.CutPrefix(u, p); ok {
			return rest
		}
	}
	return ""
}

// basicTopic is the part of a Basic resource a topic is read from.
type basicTopic struct {
	ResourceType      string     `json:"resourceType"`
	ID                string     `json:"id"`
	Extension         []topicExt `json:"extension"`
	ModifierExtension []topicExt `json:"modifierExtension"`
	Code              struct {
		Coding []struct {
			Code string `json:"code"`
		} `json:"coding"`
	} `json:"code"`
}

// isTopicBasic reports whether b is a Basic resource with code
// SubscriptionTopic.
func (b *basicTopic) isTopic() bool {
	if b.ResourceType != "Basic" {
		return false
	}
	for _, c := range b.Code.Coding {
		if c.Code == topicCode {
			return true
		}
	}
	return false
}

// parseTopicBasic reads a topic from a Basic resource's content. It
// returns nil when the content is not a topic Basic with a url; a topic
// this server cannot serve comes back with err set (EINVALID for a
// malformed one, EUNSUPPORTED for elements not served), so a subscriber
// learns why.
func parseTopicBasic(content []byte) *topicDef {
	var b basicTopic
	if json.Unmarshal(content, &b) != nil || !b.isTopic() {
		return nil
	}
	t := &topicDef{basicID: b.ID}
	var rest []topicExt
	for _, list := range [][]topicExt{b.Extension, b.ModifierExtension} {
		for _, e := range list {
			el := topicElement(e.URL)
			v, _ := e.text()
			switch el {
			case "url":
				t.url = v
			case "version":
				t.version = v
			case "status":
				t.status = v
			case "title":
				t.title = v
			default:
				rest = append(rest, e)
			}
		}
	}
	if t.url == "" {
		return nil
	}
	t.err = t.readBody(rest, b.ModifierExtension)
	return t
}

// readBody reads the topic's triggers and filters from the extensions
// left after url, version, status and title.
func (t *topicDef) readBody(exts, modifiers []topicExt) error {
	for _, m := range modifiers {
		switch topicElement(m.URL) {
		case "status":
		default:
			return concord.Errorf(concord.EUNSUPPORTED, "topic %s: modifier extension %s is not understood by this server", truncate(t.url, 200), truncate(m.URL, 200))
		}
	}
	for _, e := range exts {
		switch el := topicElement(e.URL); el {
		case "resourceTrigger":
			if len(t.triggers) == maxTriggers {
				return concord.Errorf(concord.EINVALID, "topic %s: more than %d resourceTrigger", truncate(t.url, 200), maxTriggers)
			}
			tr, err := readTrigger(e.Extension)
			if err != nil {
				return concord.Errorf(concord.ErrorCode(err), "topic %s: resourceTrigger: %s", truncate(t.url, 200), concord.ErrorMessage(err))
			}
			t.triggers = append(t.triggers, tr)
		case "canFilterBy":
			if len(t.filterBy) == maxFilterBys {
				return concord.Errorf(concord.EINVALID, "topic %s: more than %d canFilterBy", truncate(t.url, 200), maxFilterBys)
			}
			var f filterBy
			for _, x := range e.Extension {
				v, _ := x.text()
				switch x.URL {
				case "resource":
					typ, ok := resourceName(v)
					if !ok {
						return concord.Errorf(concord.EINVALID, "topic %s: canFilterBy.resource %q is not a resource type", truncate(t.url, 200), truncate(v, 200))
					}
					f.typ = typ
				case "filterParameter":
					f.param = v
				}
			}
			if f.param == "" {
				return concord.Errorf(concord.EINVALID, "topic %s: canFilterBy without filterParameter", truncate(t.url, 200))
			}
			t.filterBy = append(t.filterBy, f)
		case "eventTrigger":
			return concord.Errorf(concord.EUNSUPPORTED, "topic %s: eventTrigger is not served (resourceTrigger only)", truncate(t.url, 200))
		}
		// description, name, date, notificationShape and the like do not
		// change what matches. notificationShape's include and revInclude
		// are not added to notifications (the backport says SHOULD).
	}
	if len(t.triggers) == 0 {
		return concord.Errorf(concord.EUNSUPPORTED, "topic %s has no resourceTrigger this server can serve", truncate(t.url, 200))
	}
	return nil
}

// readTrigger reads a resourceTrigger's sub-extensions.
func readTrigger(exts []topicExt) (trigger, error) {
	var tr trigger
	var interactions []string
	for _, x := range exts {
		v, _ := x.text()
		switch x.URL {
		case "description":
		case "resource":
			typ, ok := resourceName(v)
			if !ok {
				return tr, concord.Errorf(concord.EINVALID, "resource %q is not a resource type", truncate(v, 200))
			}
			tr.typ = typ
		case "supportedInteraction":
			switch v {
			case "create", "update":
				interactions = append(interactions, v)
			case "delete":
				return tr, concord.Errorf(concord.EUNSUPPORTED, "supportedInteraction delete: deletions are not notified on this server")
			default:
				return tr, concord.Errorf(concord.EINVALID, "supportedInteraction %q is not create, update or delete", truncate(v, 40))
			}
		case "queryCriteria":
			for _, q := range x.Extension {
				qv, _ := q.text()
				switch q.URL {
				case "current":
					if len(qv) > maxCriteria {
						return tr, concord.Errorf(concord.EINVALID, "queryCriteria.current is longer than %d bytes", maxCriteria)
					}
					vals, err := url.ParseQuery(strings.TrimPrefix(qv, "?"))
					if err != nil {
						return tr, concord.Errorf(concord.EINVALID, "queryCriteria.current %q does not parse: %v", truncate(qv, 200), err)
					}
					tr.current = vals
				case "previous":
					return tr, concord.Errorf(concord.EUNSUPPORTED, "queryCriteria.previous is not served (searches run on the current version only): "+
						"use fhirPathCriteria with %%previous instead")
				case "resultForCreate", "resultForDelete":
					if qv != "test-passes" && qv != "test-fails" {
						return tr, concord.Errorf(concord.EINVALID, "queryCriteria.%s %q is not test-passes or test-fails", q.URL, truncate(qv, 40))
					}
					// They decide what previous (create) and current
					// (delete) count as: neither is evaluated here.
				case "requireBoth":
					// Only meaningful with previous, which is refused.
				default:
					return tr, concord.Errorf(concord.EUNSUPPORTED, "queryCriteria.%s is not understood by this server", truncate(q.URL, 80))
				}
			}
		case "fhirPathCriteria":
			x, err := fhirpath.Compile(v)
			if err != nil {
				return tr, concord.Errorf(concord.EINVALID, "fhirPathCriteria %q: %v", truncate(v, 200), err)
			}
			tr.fhirPath = x
		default:
			return tr, concord.Errorf(concord.EUNSUPPORTED, "%s is not understood by this server", truncate(x.URL, 80))
		}
	}
	if tr.typ == "" {
		return tr, concord.Errorf(concord.EINVALID, "resource is required")
	}
	// Without supportedInteraction every interaction triggers: here,
	// create and update (deletions are not notified).
	tr.create = len(interactions) == 0 || slices.Contains(interactions, "create")
	tr.update = len(interactions) == 0 || slices.Contains(interactions, "update")
	return tr, nil
}

// resourceName reads a resource type given as its name or as its
// StructureDefinition's canonical URL.
func resourceName(v string) (string, bool) {
	v = strings.TrimPrefix(v, "http://hl7.org/fhir/StructureDefinition/")
	return v, fhir.IsResource(v)
}

// topicOf finds the topic canonical (url, or url|version) names among
// topics: one with that url (and version), active if any is (several:
// the one listed last, the newest, as the loaders list them oldest
// first), else the newest that is not (so that a subscriber learns its
// status). nil when there is none.
func topicOf(topics []*topicDef, canonical string) *topicDef {
	u, version, hasVersion := strings.Cut(canonical, "|")
	var found, inactive *topicDef
	for _, t := range topics {
		if t.url != u || (hasVersion && t.version != version) {
			continue
		}
		if t.status == "active" {
			found = t
		} else {
			inactive = t
		}
	}
	if found == nil {
		return inactive
	}
	return found
}
