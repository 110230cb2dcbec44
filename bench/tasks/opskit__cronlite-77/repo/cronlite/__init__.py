"""cronlite: a three-field cron (minute hour weekday) for in-process schedulers."""
