"""Full syncs: every record, a page at a time, saved in batches."""
