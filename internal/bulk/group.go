package bulk

// maxGroupMembers caps the patients of a Group export: their ids go into
// every scan query as parameters. The members come from
// fhirapi.GroupMembers (active, current, nested Groups followed).
const maxGroupMembers = 10000
