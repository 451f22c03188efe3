"""Where a patient's phone and email come from: contact columns, contact rows and links, whose each
contact is, which number takes a text, and the consent that allows it."""
