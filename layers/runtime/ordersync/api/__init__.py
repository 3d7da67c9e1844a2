"""The HTTP API partners call: a Powertools REST resolver with validation, routes and the OpenAPI document."""
