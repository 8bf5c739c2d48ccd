-- PLACEHOLDER on branch changes-source only: version 7 belongs to the
-- terminology branch (unmapped codes). Migrations must be numbered without
-- gaps, so this no-op keeps 0008 loadable until the branches are merged;
-- the merger keeps the terminology branch's file of this name.
SELECT 1;
