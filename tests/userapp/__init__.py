"""A small user application, as a team would have it, for the `cors_observe` fixture tests."""
