"""Major incidents, response teams and war rooms, stakeholder communication and the public
status page, post-incident reviews and their exports."""
