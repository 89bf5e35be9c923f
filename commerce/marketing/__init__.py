"""Marketing: promotions that change the price of a line (秒杀 flash sales); checkout asks here."""
