"""Adapters to AWS services. The only package of ordersync that talks to boto3."""
