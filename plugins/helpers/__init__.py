"""SQL and database helpers shared by the Sparkify operators."""
