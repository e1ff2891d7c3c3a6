"""HTTP edge shared by the feature routers: typed dependencies and the error mapping."""
