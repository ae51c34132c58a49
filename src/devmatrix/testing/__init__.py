"""What the test tiers' runner (noxfile.py) does beyond declaring its sessions, as tested code:
devmatrix.testing.lanes."""
