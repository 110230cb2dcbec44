"""bizdays: business-day arithmetic with holiday calendars."""
