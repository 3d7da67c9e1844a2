"""Infrastructure helpers: reading and translating ``template.yaml`` without AWS (tests, checks, local runtime)."""
