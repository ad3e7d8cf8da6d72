"""Case management: social accompaniment of a family from referral to closure."""
