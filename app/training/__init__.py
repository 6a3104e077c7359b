"""The Train, Job and Compare pages' parts."""
