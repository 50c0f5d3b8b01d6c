"""What a person sees in Slack: every sentence, every Block Kit layout, how a reply is
cut into messages, and Slack's markup in and out. Imports no other slackbot package."""
