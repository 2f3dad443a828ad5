"""Mail in: the SMTP receiver of customers' replies to work-order mail (`inbound`) and reading what
a customer wrote out of a message (`text`, pure). Mail out is a service: app/services/mail.py."""
