package fhirpath

import (
	"context"
	"strings"

	"github.com/concord-health/concord/fhir"
)

// resolveFn is resolve() (FHIR R4 section 2.1.9.1.5): each Reference's
// reference, or each uri/canonical string, looked up through the
// Resolver; a contained reference (#id) is found in %resource.
func resolveFn(e *env, c *call, in Collection) (Collection, error) {
	var out Collection
	for _, v := range in {
		ref := ""
		if v.isNode() && v.typ != nil && v.typ.Name == "Reference" {
			if r, ok := v.ref.Get("reference"); ok {
				ref = r.String()
			}
		} else if s, ok := v.system(); ok && s.kind == KindString {
			ref = s.s
		}
		if ref == "" {
			continue
		}
		if strings.HasPrefix(ref, "#") {
			for _, root := range e.root {
				cs, err := children(e, root, "contained", nil)
				if err != nil {
					return nil, err
				}
				for _, r := range cs {
					if id, ok := r.ref.Get("id"); ok && id.String() == ref[1:] {
						out = append(out, r)
					}
				}
			}
			continue
		}
		if e.opt.Resolver == nil {
			continue
		}
		ctx := e.ctx
		if ctx == nil {
			ctx = backgroundContext
		}
		doc, err := e.opt.Resolver.Resolve(ctx, ref)
		if err != nil || doc == nil {
			continue
		}
		if r, err := resourceNode(doc.Root()); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// memberOf is memberOf(valueSet): whether a code, Coding or
// CodeableConcept is in the value set, through the Terminology.
func memberOf(e *env, c *call, in Collection) (Collection, error) {
	vs, err := c.arg(e, 0)
	if err != nil || len(vs) != 1 || len(in) != 1 {
		return nil, err
	}
	if e.opt.Terminology == nil {
		return nil, nil
	}
	url := vs[0].String()
	ctx := e.ctx
	if ctx == nil {
		ctx = backgroundContext
	}
	check := func(system, code string) (bool, error) {
		return e.opt.Terminology.MemberOf(ctx, url, system, code)
	}
	v := in[0]
	codings := Collection{v}
	if v.isNode() && v.typ != nil && v.typ.Name == "CodeableConcept" {
		codings, err = children(e, v, "coding", nil)
		if err != nil {
			return nil, err
		}
	}
	for _, cd := range codings {
		var system, code string
		if cd.isNode() && cd.typ != nil && cd.typ.Name == "Coding" {
			if s, ok := cd.ref.Get("system"); ok {
				system = s.String()
			}
			if k, ok := cd.ref.Get("code"); ok {
				code = k.String()
			}
		} else {
			code = cd.String()
		}
		ok, err := check(system, code)
		if err != nil {
			return nil, nil
		}
		if ok {
			return bools(true), nil
		}
	}
	return bools(false), nil
}

// htmlChecks is the narrative check of FHIR's txt-1 (only a safe subset
// of XHTML): no script, no event attributes, no javascript: links.
func htmlChecks(in Collection) Collection {
	if len(in) != 1 {
		return nil
	}
	s := strings.ToLower(in[0].String())
	for _, bad := range []string{"<script", "<iframe", "<object", "<embed", "<form", "<applet", "javascript:", " on"} {
		if bad == " on" {
			for i := strings.Index(s, " on"); i >= 0; {
				j := i + 3
				for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
					j++
				}
				if j > i+3 && j < len(s) && (s[j] == '=' || s[j] == ' ') && strings.Contains(s[:i], "<") {
					return bools(false)
				}
				k := strings.Index(s[i+3:], " on")
				if k < 0 {
					break
				}
				i += 3 + k
			}
			continue
		}
		if strings.Contains(s, bad) {
			return bools(false)
		}
	}
	return bools(strings.HasPrefix(strings.TrimSpace(s), "<div"))
}

// conformsTo is conformsTo(profile): for the base profiles of the
// specification, whether the item is of that type. Another profile is an
// error until validation against profiles exists.
func conformsTo(e *env, c *call, in Collection) (Collection, error) {
	p, err := c.arg(e, 0)
	if err != nil || len(p) != 1 || len(in) != 1 {
		return nil, err
	}
	url := p[0].String()
	const base = "http://hl7.org/fhir/StructureDefinition/"
	name := strings.TrimPrefix(url, base)
	if _, known := fhir.Type(name); !strings.HasPrefix(url, base) || !known {
		return nil, evalErrorf(c.at, "conformsTo(): unknown profile %s", url)
	}
	v := in[0]
	if !v.isNode() || v.typ == nil {
		return bools(false), nil
	}
	return bools(v.typ.IsA(name)), nil
}

var backgroundContext = context.Background()
