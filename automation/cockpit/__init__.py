"""The marketer's cockpit (docs/architecture.md §4): the admin pages of plans and contacts,
the step editor, the diagram, the report, the timeline and Try it. It uses the engine
(`automation.engine`) and the plan format (`automation.flow`); the engine never uses it."""
