"""pager: paginate lists for web listings."""
