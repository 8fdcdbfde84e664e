"""A sent contract version is a record of what the client saw: the database refuses to change its text."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION tenants_contract_version_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'contract version % was sent; it cannot be deleted', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'draft' AND (
        NEW.terms IS DISTINCT FROM OLD.terms OR NEW.tariffs IS DISTINCT FROM OLD.tariffs
        OR NEW.body IS DISTINCT FROM OLD.body OR NEW.pdf IS DISTINCT FROM OLD.pdf
        OR NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256 OR NEW.number IS DISTINCT FROM OLD.number
        OR NEW.contract_id IS DISTINCT FROM OLD.contract_id
    ) THEN
        RAISE EXCEPTION 'contract version % was sent; its text cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tenants_contract_version_frozen
    BEFORE UPDATE OR DELETE ON tenants_contractversion
    FOR EACH ROW EXECUTE FUNCTION tenants_contract_version_frozen();
"""
ALLOW = """
DROP TRIGGER IF EXISTS tenants_contract_version_frozen ON tenants_contractversion;
DROP FUNCTION IF EXISTS tenants_contract_version_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_contract_version_unsent_superseded")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
