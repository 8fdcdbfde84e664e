"""Operations pages for platform staff: who serves which company (skills, tiers, languages) and shifts."""
