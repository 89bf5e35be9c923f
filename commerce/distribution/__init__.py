"""A brand's distributor programme (分销): its stores' staff share its products and earn on what they bring in."""
