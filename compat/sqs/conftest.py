"""Shared fixtures: a boto3 SQS client pointed at the Ferry server in $FERRY_SQS_ENDPOINT."""

import os
import uuid

import boto3
import pytest
from botocore.config import Config

ENDPOINT = os.environ.get("FERRY_SQS_ENDPOINT", "http://127.0.0.1:7480")


@pytest.fixture(scope="session")
def sqs():
    return boto3.client(
        "sqs",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5),
    )


@pytest.fixture
def name():
    """A fresh queue name per test."""
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def queue(sqs, name):
    return sqs.create_queue(QueueName=name)["QueueUrl"]


@pytest.fixture
def fifo(sqs, name):
    return sqs.create_queue(
        QueueName=name + ".fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
