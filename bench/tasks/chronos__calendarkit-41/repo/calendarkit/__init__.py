"""calendarkit: month arithmetic for billing schedules."""
