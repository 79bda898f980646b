"""Reference data that admins manage: levels, categories, applications, regions, projects."""
