"""Static pages that frontends serve; `probe.js` runs the fetch() calls a scenario asks for."""
