-- Reserved for the subscriptions branch (issue 7), which owns migration 0009.
-- The export branch needs a 0009 to number its own 0010; delete this file when
-- the two branches are merged.
SELECT 1;
