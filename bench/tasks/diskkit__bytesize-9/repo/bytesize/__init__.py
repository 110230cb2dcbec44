"""bytesize: parse and print byte sizes."""
